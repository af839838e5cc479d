// Creating a group: its name and its first members (the creator is its owner), then its view.
import { useEffect, useState } from 'preact/hooks';
import { group } from './chat/conversation-key.js';
import { memberNames } from './chat/groups.js';
import type { ChatStore } from './chat/store.js';
import { Field, FormError, useSubmit } from './Field.js';
import { PaneHeader } from './PaneHeader.js';
import { chatPath, navigate } from './router.js';

export function NewGroupView({ store }: { store: ChatStore }) {
  const [name, setName] = useState('');
  const [members, setMembers] = useState('');
  const { errors, form, busy, run } = useSubmit(['name', 'members']);
  // Keyboard users start where the view does, not on the link that opened it.
  useEffect(() => document.getElementById('group-name')?.focus(), []);

  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const created = await store.groups.create(name.trim(), memberNames(members));
      store.list.ensure(group(created.id));
      navigate(chatPath(group(created.id)));
    });
  };

  return (
    <section class="form-view" aria-labelledby="new-group-title">
      <PaneHeader titleId="new-group-title" title="New group" />
      <div class="form-body">
        <form ref={form} onSubmit={submit} noValidate aria-labelledby="new-group-title">
          <FormError errors={errors} />
          <Field id="group-name" label="Group name" value={name} onInput={setName} errors={errors.fields.name} hint="1 to 100 characters." />
          <Field id="group-members" label="Members" value={members} onInput={setMembers} errors={errors.fields.members} hint="Usernames separated by commas; user@backend for someone on another server." />
          <button type="submit" disabled={busy || !name.trim()}>
            Create group
          </button>
        </form>
      </div>
    </section>
  );
}
