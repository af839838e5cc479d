// HTTP routes of the accounts feature: register, login, logout, me.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { authOf, type AuthHook } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';
import { AuthAnswer, LoginBody, ProfileChangesBody, RegisterBody, UserSchema } from './schemas.js';
import { toPublicUser, type AccountsService, type AuthenticatedUser } from './service.js';

// What http/auth's hook leaves on a request is an accounts session: declared here, by the owner
// of the type, so that http/ (which accounts/ builds on) imports nothing of accounts/.
declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthenticatedUser | null;
  }
}

export function accountsRoutes(accounts: AccountsService, authenticate: AuthHook) {
  return async (instance: FastifyInstance) => {
    const app = instance.withTypeProvider<TypeBoxTypeProvider>();
    const errors = errorResponses(400, 401, 409, 429);

    app.post(
      '/accounts/register/',
      { schema: { tags: ['accounts'], summary: 'Create an account', body: RegisterBody, response: { 201: AuthAnswer, ...errors } } },
      async (request, reply) => {
        const { token, user } = await accounts.register(request.body, request.ip);
        return reply.status(201).send({ message: 'User registered successfully', token, user: toPublicUser(user) });
      },
    );

    app.post(
      '/accounts/login/',
      { schema: { tags: ['accounts'], summary: 'Log in with username or email', body: LoginBody, response: { 200: AuthAnswer, ...errors } } },
      async (request) => {
        const { token, user } = await accounts.login(request.body.username, request.body.password, request.ip);
        return { message: 'Login successful', token, user: toPublicUser(user) };
      },
    );

    const secured = { tags: ['accounts'], security: [{ token: [] }] };

    app.post('/accounts/logout/', { onRequest: authenticate, schema: { ...secured, summary: 'Revoke this token', response: { 204: Type.Null(), ...errorResponses(401) } } }, async (request, reply) => {
      const { tokenId, user } = authOf(request);
      await accounts.logout(tokenId, user.id);
      return reply.status(204).send(null);
    });

    app.get('/accounts/me/', { onRequest: authenticate, schema: { ...secured, summary: 'The current user', response: { 200: UserSchema, ...errorResponses(401) } } }, async (request) =>
      toPublicUser(authOf(request).user),
    );

    app.patch(
      '/accounts/me/',
      { onRequest: authenticate, schema: { ...secured, summary: 'Change email, phone number or password', body: ProfileChangesBody, response: { 200: UserSchema, ...errors } } },
      async (request) => toPublicUser(await accounts.updateProfile(authOf(request), request.body)),
    );
  };
}
