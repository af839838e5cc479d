// The wire form of federation transactions (federation.md, "Transactions"): the body, its items,
// sealing and opening the item list, per-item checks and the peer's answer. Pure; the outbox
// seals and reads answers with it, the inbound transactions route opens and checks with it.
import { Type, type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { encodeWireMessage, fernetEncrypt } from '../../crypto/fernet.js';
import { BadRequest } from '../../http/errors.js';
import { openFernetText } from '../../http/sealed-body.js';

export const TRANSACTIONS_PATH = '/federation/transactions/';

/**
 * The most items one transaction may hold, whatever FEDERATION_BATCH says: the answer to it, at
 * most ~133 bytes a result, must stay under the 64kb a federation answer may have (http.ts).
 */
export const MAX_TRANSACTION_ITEMS = 400;

const Uuid = Type.String({ format: 'uuid' });
// A user of the sending backend: a remote name there, bounded as v1's `sender`.
const OriginUser = Type.String({ minLength: 1, maxLength: 150 });
// A user of the receiving backend, bounded as v1's `receiver`; the receiver resolves it.
const LocalUser = Type.String({ minLength: 1, maxLength: 420 });
// The id a message was delivered with, bounded as v1's `ref`.
const DeliveredId = Type.String({ minLength: 1, maxLength: 64 });
// Generous bounds on the raw text; the exact rule (1 to 10,000 characters once trimmed) is the receiver's service's.
const Text = Type.String({ maxLength: 40_000 });
const Instant = Type.String({ format: 'date-time', maxLength: 64 });

export const MessageItem = Type.Object({ type: Type.Literal('message'), id: Uuid, sender: OriginUser, receiver: LocalUser, text: Text, timestamp: Instant });
export const EditItem = Type.Object({ type: Type.Literal('edit'), id: Uuid, ref: DeliveredId, sender: OriginUser, receiver: LocalUser, text: Text, timestamp: Instant });
export const DeleteItem = Type.Object({ type: Type.Literal('delete'), id: Uuid, ref: DeliveredId, sender: OriginUser, receiver: LocalUser, timestamp: Instant });
/** `reader` (of the origin) has read every message from `partner` (of the receiver) up to the one delivered as `up_to`. */
export const ReadItem = Type.Object({ type: Type.Literal('read'), id: Uuid, reader: OriginUser, partner: LocalUser, up_to: DeliveredId, read_at: Instant });
/** Passed on at once, never stored or retried. */
export const DirectTypingItem = Type.Object({ type: Type.Literal('typing'), id: Uuid, from: OriginUser, to: LocalUser });

// Group items (groups.md, "Groups across backends") name users with their backend, `bob@b`,
// whichever backend they are on; a member's backend names its own user by plain name (`sender`).
const QualifiedUser = Type.String({ minLength: 3, maxLength: 420, pattern: '^[^@]+@[^@]+$' });
// Generous bound; the exact rule (1 to 100 characters once trimmed) is the home's service's.
const GroupName = Type.String({ maxLength: 400 });
const GroupRole = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);
const GroupMember = Type.Object({ user: QualifiedUser, role: GroupRole, joined_at: Instant });
/** What happened to a group message: posted, edited, deleted, or read up to by `sender`. */
const GroupMessageKind = Type.Union([Type.Literal('message'), Type.Literal('edit'), Type.Literal('delete'), Type.Literal('read')]);

/** The home's whole group at `version` (members `[]`: the group is gone); a backend keeps the newest. */
export const GroupStateItem = Type.Object({
  type: Type.Literal('group_state'),
  id: Uuid,
  group: Uuid,
  name: GroupName,
  version: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  created_at: Instant,
  members: Type.Array(GroupMember, { maxItems: 10_000 }),
});
/** From the home: a message of the group in its order (`position`), or an edit, delete or read of one by `sender`. */
export const GroupMessageItem = Type.Object({
  type: Type.Literal('group_message'),
  id: Uuid,
  group: Uuid,
  kind: GroupMessageKind,
  message: Uuid,
  sender: QualifiedUser,
  position: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
  text: Type.Optional(Text),
  timestamp: Instant,
});
/** To the home: a member of the origin posts, edits, deletes or reads up to a message. */
export const GroupPostItem = Type.Object({
  type: Type.Literal('group_post'),
  id: Uuid,
  group: Uuid,
  kind: GroupMessageKind,
  sender: OriginUser,
  message: Uuid,
  text: Type.Optional(Text),
  timestamp: Instant,
});
/** To the home: a member of the origin asks for a change of members, roles or name (leaving: removing themself). */
export const GroupRequestItem = Type.Object({
  type: Type.Literal('group_request'),
  id: Uuid,
  group: Uuid,
  sender: OriginUser,
  action: Type.Union([Type.Literal('add'), Type.Literal('remove'), Type.Literal('role'), Type.Literal('rename')]),
  user: Type.Optional(QualifiedUser),
  role: Type.Optional(Type.Union([Type.Literal('admin'), Type.Literal('member')])),
  name: Type.Optional(GroupName),
});

/**
 * Typing in a group (`group` instead of `to`): to the home, `from` is a user of the origin; from
 * the home, a member of any backend, qualified.
 */
export const GroupTypingItem = Type.Object({ type: Type.Literal('typing'), id: Uuid, from: Type.String({ minLength: 1, maxLength: 420 }), group: Uuid });
export const TypingItem = Type.Union([DirectTypingItem, GroupTypingItem]);

/** Every item type by its `type`: a new type is one more entry here. */
const ITEM_SCHEMAS = {
  message: MessageItem,
  edit: EditItem,
  delete: DeleteItem,
  read: ReadItem,
  typing: TypingItem,
  group_state: GroupStateItem,
  group_message: GroupMessageItem,
  group_post: GroupPostItem,
  group_request: GroupRequestItem,
} as const;

export type ItemType = keyof typeof ITEM_SCHEMAS;
/** One item of a transaction, discriminated by `type`. */
export type TransactionItem = { [T in ItemType]: Static<(typeof ITEM_SCHEMAS)[T]> }[ItemType];
export type ItemOf<T extends ItemType> = Extract<TransactionItem, { type: T }>;

/** The request body: `items` is the wire form (base64url) of one Fernet token of the JSON array of items. */
export const TransactionBody = Type.Object({ id: Uuid, items: Type.String({ minLength: 1 }) });
export type TransactionBody = Static<typeof TransactionBody>;

export interface Transaction {
  id: string;
  items: TransactionItem[];
}

// Echoed ids are bounded so that an answer's size stays bounded too.
const ResultId = Type.String({ maxLength: 64 });
const Code = Type.String({ pattern: '^[a-z0-9_]{1,64}$' });
// A `group_request`'s 200 names the group's version after it (we extend the spec here), so that
// the asking backend can answer its user once its copy has caught up.
export const ItemApplied = Type.Object({ id: ResultId, status: Type.Literal(200), version: Type.Optional(Type.Integer({ minimum: 0 })) });
export const ItemRefused = Type.Object({ id: ResultId, status: Type.Integer({ minimum: 400, maximum: 499 }), code: Code });
export type ItemApplied = Static<typeof ItemApplied>;
/** Final for that item only: the outbox marks its entry `failed` with the code. */
export type ItemRefused = Static<typeof ItemRefused>;
export type ItemResult = ItemApplied | ItemRefused;
/** The answer, one result per item in the order of the items; it never echoes text. */
export const TransactionAnswer = Type.Object({ results: Type.Array(Type.Union([ItemApplied, ItemRefused])) });
export type TransactionAnswer = Static<typeof TransactionAnswer>;

export type CheckedItem = { ok: true; item: TransactionItem } | { ok: false; result: ItemRefused };

const itemValidators = new Map(Object.entries(ITEM_SCHEMAS).map(([type, schema]) => [type, Compile(schema as TSchema)]));
const answerValidator = Compile(TransactionAnswer);

/** The request body of a transaction, with a fresh token: a retry must still be inside the peer's time window. */
export function sealTransaction(transaction: Transaction, peerKey: Buffer, clock: () => number): TransactionBody {
  const now = Math.floor(clock() / 1000);
  return { id: transaction.id, items: encodeWireMessage(fernetEncrypt(peerKey, JSON.stringify(transaction.items), { now })) };
}

/**
 * The items of a transaction, each checked; 400 invalid_token_payload for the whole request
 * when the token does not open under the keys within maxAgeMs or does not hold a list of 1 to
 * MAX_TRANSACTION_ITEMS items.
 */
export function openTransaction(body: TransactionBody, keys: Buffer[], maxAgeMs: number, clock: () => number): CheckedItem[] {
  const { text } = openFernetText(body.items, { keys, maxAgeMs, clock }, UNOPENED);
  let items: unknown;
  try {
    items = JSON.parse(text);
  } catch {
    throw new BadRequest('invalid_token_payload', NOT_A_LIST);
  }
  if (!Array.isArray(items) || items.length === 0 || items.length > MAX_TRANSACTION_ITEMS) throw new BadRequest('invalid_token_payload', NOT_A_LIST);
  return items.map(checkItem);
}

const UNOPENED = 'The transaction token could not be decrypted (tampered, wrong key or expired).';
const NOT_A_LIST = `The transaction token does not hold a list of 1 to ${MAX_TRANSACTION_ITEMS} items.`;

/** A typed item, or its 400 result; never throws, and an item without a usable id is answered under ''. */
export function checkItem(raw: unknown): CheckedItem {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return refused('', 'invalid_item');
  const fields = raw as Record<string, unknown>;
  const id = typeof fields.id === 'string' && fields.id.length <= 64 ? fields.id : '';
  const validator = typeof fields.type === 'string' ? itemValidators.get(fields.type) : undefined;
  if (!validator) return refused(id, 'unknown_item_type');
  if (!validator.Check(raw)) return refused(id, 'validation_error');
  return { ok: true, item: raw as TransactionItem };
}

function refused(id: string, code: string): CheckedItem {
  return { ok: false, result: { id, status: 400, code } };
}

/**
 * A peer's answer to the items sent, or undefined when it is not one result per item in order
 * (the whole transaction is then a temporary fault and goes again).
 */
export function parseTransactionAnswer(answer: string, items: readonly Pick<TransactionItem, 'id'>[]): ItemResult[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(answer);
  } catch {
    return undefined;
  }
  if (!answerValidator.Check(value)) return undefined;
  const { results } = value;
  if (results.length !== items.length || results.some((result, index) => result.id !== items[index]!.id)) return undefined;
  return results;
}
