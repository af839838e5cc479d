// HTTP routes of phone verification: send a code to the profile's number, then check it.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { authOf, type AuthHook } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';
import { CheckCodeBody, PhoneVerified, VerificationStarted } from './schemas.js';
import type { PhoneVerificationService } from './service.js';

export function phoneVerificationRoutes(verification: PhoneVerificationService, authenticate: AuthHook) {
  return async (instance: FastifyInstance) => {
    const app = instance.withTypeProvider<TypeBoxTypeProvider>();
    const secured = { tags: ['accounts'], security: [{ token: [] }] };
    const errors = errorResponses(400, 401, 409, 429, 503);

    app.post(
      '/accounts/phone/verify/',
      {
        onRequest: authenticate,
        schema: { ...secured, summary: "Send a verification code to the profile's phone number", response: { 202: VerificationStarted, ...errors } },
      },
      async (request, reply) => {
        const { requestId } = await verification.start(authOf(request).user.id, request.ip);
        return reply.status(202).send({ message: 'Verification code sent', request_id: requestId });
      },
    );

    app.post(
      '/accounts/phone/verify/check/',
      {
        onRequest: authenticate,
        schema: { ...secured, summary: 'Check the code received by SMS', body: CheckCodeBody, response: { 200: PhoneVerified, ...errors } },
      },
      async (request) => {
        await verification.check(authOf(request).user.id, request.body.code);
        return { message: 'Phone number verified' };
      },
    );
  };
}
