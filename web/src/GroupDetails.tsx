// A group's details: its members with their roles and presence, and what the signed-in user may
// change (rename and add for the owner and admins, remove and roles as spec/groups.md allows),
// and leaving. Every answer of the server replaces the group as the page shows it; a change that
// waits for the group's home (another backend, unreachable now) says so until the home applies it.
import { useState } from 'preact/hooks';
import type { Group, GroupMember } from './api.js';
import { userKey } from './chat/conversation-key.js';
import { byRole, canChangeRole, canManage, canRemove, type ChangeOutcome } from './chat/groups.js';
import type { ChatStore } from './chat/store.js';
import { Field, FormError, useSubmit, type Submitting } from './Field.js';
import { presenceText } from './format.js';

export function GroupDetails({ store, id }: { store: ChatStore; id: string }) {
  const group = store.groups.details(id);
  const members = useSubmit([]);
  const [queued, setQueued] = useState(false);
  const told = (outcome: ChangeOutcome) => setQueued(outcome === 'queued');
  if (!group) {
    return (
      <aside id="group-details" class="group-details" aria-label="Group details">
        <p class="muted">Loading members…</p>
      </aside>
    );
  }
  const manage = canManage(group, store.user.username);
  return (
    <aside id="group-details" class="group-details" aria-label="Group details">
      {queued && (
        <p role="status" class="notice">
          Sent to {group.home}, which holds this group: the change shows here once it is applied there.
        </p>
      )}
      {manage && <RenameGroup key={group.name} store={store} group={group} told={told} />}
      <section aria-labelledby="members-title">
        <h3 id="members-title">Members ({group.members.length})</h3>
        <FormError errors={members.errors} />
        <ul class="members">
          {byRole(group.members).map((member) => (
            <MemberRow key={member.user} store={store} group={group} member={member} actions={members} told={told} />
          ))}
        </ul>
      </section>
      {manage && <AddMember store={store} group={group} told={told} />}
      <LeaveGroup store={store} group={group} />
    </aside>
  );
}

type Told = (outcome: ChangeOutcome) => void;

function MemberRow({ store, group, member, actions, told }: { store: ChatStore; group: Group; member: GroupMember; actions: Submitting; told: Told }) {
  const me = store.user.username;
  const itsMe = userKey(member.user) === userKey(me);
  const nextRole = member.role === 'admin' ? 'member' : 'admin';
  return (
    <li class="member">
      <span class="member-name" dir="auto">
        {member.user}
        {itsMe && ' (you)'}
      </span>
      <span class={`role ${member.role}`}>{member.role}</span>
      <span class="member-presence">{itsMe ? '' : presenceText(store.activity.presenceOf(member.user))}</span>
      <span class="member-actions">
        {canChangeRole(group, me, member) && (
          <button
            type="button"
            class="link"
            disabled={actions.busy}
            aria-label={`Make ${member.user} ${nextRole === 'admin' ? 'an admin' : 'a member'}`}
            onClick={() => void actions.run(async () => told(await store.groups.setRole(group.id, member.user, nextRole)))}
          >
            {nextRole === 'admin' ? 'Make admin' : 'Make member'}
          </button>
        )}
        {canRemove(group, me, member) && (
          <button type="button" class="link danger" disabled={actions.busy} aria-label={`Remove ${member.user}`} onClick={() => void actions.run(async () => told(await store.groups.remove(group.id, member.user)))}>
            Remove
          </button>
        )}
      </span>
    </li>
  );
}

function RenameGroup({ store, group, told }: { store: ChatStore; group: Group; told: Told }) {
  const [name, setName] = useState(group.name);
  const { errors, form, busy, run } = useSubmit(['name']);
  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => told(await store.groups.rename(group.id, name.trim())));
  };
  return (
    <form ref={form} onSubmit={submit} noValidate aria-label="Rename the group">
      <FormError errors={errors} />
      <Field id="group-rename" label="Group name" value={name} onInput={setName} errors={errors.fields.name} />
      <button type="submit" class="secondary" disabled={busy || !name.trim() || name.trim() === group.name}>
        Rename
      </button>
    </form>
  );
}

function AddMember({ store, group, told }: { store: ChatStore; group: Group; told: Told }) {
  const [user, setUser] = useState('');
  const { errors, form, busy, run } = useSubmit(['user']);
  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      told(await store.groups.add(group.id, user.trim()));
      setUser('');
    });
  };
  return (
    <form ref={form} onSubmit={submit} noValidate aria-label="New member">
      <FormError errors={errors} />
      <Field id="group-add" label="Add a member" value={user} onInput={setUser} errors={errors.fields.user} hint="A username, or user@backend." />
      <button type="submit" class="secondary" disabled={busy || !user.trim()}>
        Add
      </button>
    </form>
  );
}

function LeaveGroup({ store, group }: { store: ChatStore; group: Group }) {
  const [confirming, setConfirming] = useState(false);
  const { errors, form, busy, run } = useSubmit([]);
  const submit = (event: Event) => {
    event.preventDefault();
    void run(() => store.leaveGroup(group.id));
  };
  if (!confirming) {
    return (
      <button type="button" class="secondary danger" onClick={() => setConfirming(true)}>
        Leave group
      </button>
    );
  }
  return (
    <form ref={form} onSubmit={submit} aria-label="Leave the group" class="leave">
      <FormError errors={errors} />
      <p>Leave {group.name}? Your messages stay in the group.</p>
      <div class="inline">
        <button type="submit" class="danger" disabled={busy}>
          Yes, leave
        </button>
        <button type="button" class="secondary" onClick={() => setConfirming(false)}>
          Stay
        </button>
      </div>
    </form>
  );
}
