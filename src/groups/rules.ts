// The rules of a group's membership, pure: a name's bounds, who may remove whom, and who becomes
// owner when the owner leaves.
import type { GroupRole } from '../conversations/repository.js';
import { controlCharactersIn } from '../unicode/control-characters.js';
import { ValidationFailed } from '../http/errors.js';

const NAME_MAX_LENGTH = 100;

/**
 * A group's name as stored: trimmed, 1 to 100 characters (code points, counted after NFKC as every
 * length is), no control character. Also for names that come from peers (a home's state, a
 * member's rename), which no request hook has seen.
 */
export function checkGroupName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw new ValidationFailed({ name: ['This field may not be blank.'] });
  const control = controlCharactersIn(trimmed, 'name');
  if (control) throw new ValidationFailed({ name: [control] });
  if ([...trimmed.normalize('NFKC')].length > NAME_MAX_LENGTH) throw new ValidationFailed({ name: [`Ensure this field has no more than ${NAME_MAX_LENGTH} characters.`] });
  return trimmed;
}

/** Why a user of a compat peer cannot be a member: the original backend has no groups. */
export function onCompatPeer(address: string): string {
  return `${address} is a user of a backend without groups.`;
}

/**
 * Whether a member in role `actor` may remove another member in role `target`: the owner anyone,
 * an admin plain members (neither the owner nor another admin), a plain member nobody. Anyone may
 * remove themself (leave); that is not asked here.
 */
export function mayRemove(actor: GroupRole, target: GroupRole): boolean {
  if (actor === 'owner') return true;
  return actor === 'admin' && target === 'member';
}

/** Whether a member in this role may rename the group and add members. */
export function mayManage(role: GroupRole): boolean {
  return role === 'owner' || role === 'admin';
}

/**
 * Who becomes owner when the owner leaves: the longest-standing admin, else the longest-standing
 * member; `remaining` is in longest-standing order. Undefined when nobody remains.
 */
export function nextOwner<M extends { role: GroupRole }>(remaining: readonly M[]): M | undefined {
  return remaining.find((member) => member.role === 'admin') ?? remaining[0];
}
