// HTTP routes of groups: create and list, show and rename, add a member, change a role, remove a
// member or leave. A group the caller is not a member of is 404, never 403.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { authOf, type AuthHook } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';
import type { Queued } from './copy-requests.js';
import { AddMemberBody, ChangeRoleBody, CreateGroupBody, GroupListSchema, GroupParams, GroupSchema, MemberParams, QueuedSchema, RenameGroupBody } from './schemas.js';
import type { GroupsService } from './service.js';
import type { GroupView } from './view.js';

export function groupsRoutes(groups: GroupsService, authenticate: AuthHook) {
  return async (instance: FastifyInstance) => {
    const app = instance.withTypeProvider<TypeBoxTypeProvider>();
    const secured = { tags: ['groups'], security: [{ token: [] }] };
    const errors = errorResponses(400, 401, 403, 404);
    // A change of a group homed elsewhere that its home could not answer in time.
    const queued = { 202: QueuedSchema };

    app.post(
      '/accounts/groups/',
      { onRequest: authenticate, schema: { ...secured, summary: 'Create a group (the caller is its owner)', body: CreateGroupBody, response: { 201: GroupSchema, ...errors } } },
      async (request, reply) => reply.status(201).send(await groups.create(authOf(request).user, request.body)),
    );

    app.get(
      '/accounts/groups/',
      { onRequest: authenticate, schema: { ...secured, summary: "The caller's groups, newest first", response: { 200: GroupListSchema, ...errors } } },
      async (request) => groups.list(authOf(request).user),
    );

    app.get(
      '/accounts/groups/:id/',
      { onRequest: authenticate, schema: { ...secured, summary: 'A group and its members', params: GroupParams, response: { 200: GroupSchema, ...errors } } },
      async (request) => groups.show(authOf(request).user, request.params.id),
    );

    app.patch(
      '/accounts/groups/:id/',
      {
        onRequest: authenticate,
        schema: { ...secured, summary: 'Rename a group (owner and admins)', params: GroupParams, body: RenameGroupBody, response: { 200: GroupSchema, ...queued, ...errors } },
      },
      async (request, reply) => groupOrQueued(reply, await groups.rename(authOf(request).user, request.params.id, request.body.name)),
    );

    app.post(
      '/accounts/groups/:id/members/',
      {
        onRequest: authenticate,
        schema: { ...secured, summary: 'Add a member (owner and admins)', params: GroupParams, body: AddMemberBody, response: { 200: GroupSchema, ...queued, ...errors } },
      },
      async (request, reply) => groupOrQueued(reply, await groups.addMember(authOf(request).user, request.params.id, request.body.user)),
    );

    app.patch(
      '/accounts/groups/:id/members/:user/',
      {
        onRequest: authenticate,
        schema: { ...secured, summary: "Change a member's role (owner only)", params: MemberParams, body: ChangeRoleBody, response: { 200: GroupSchema, ...queued, ...errors } },
      },
      async (request, reply) => groupOrQueued(reply, await groups.changeRole(authOf(request).user, request.params.id, request.params.user, request.body.role)),
    );

    app.delete(
      '/accounts/groups/:id/members/:user/',
      {
        onRequest: authenticate,
        schema: { ...secured, summary: 'Remove a member (owner and admins), or leave (oneself)', params: MemberParams, response: { 204: Type.Null(), ...queued, ...errors } },
      },
      async (request, reply) => {
        const answer = await groups.removeMember(authOf(request).user, request.params.id, request.params.user);
        return typeof answer === 'number' ? reply.status(204).send(null) : reply.status(202).send(answer);
      },
    );
  };
}

/** 200 with the group, or 202 when the group's home could not answer in time. */
function groupOrQueued(reply: FastifyReply, answer: GroupView | Queued): FastifyReply {
  return 'status' in answer ? reply.status(202).send(answer) : reply.status(200).send(answer);
}
