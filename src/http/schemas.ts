// Response schemas every feature shares: the one error body of the API (errors.ts builds it)
// and the map of error statuses a route declares, so OpenAPI and serialization agree.
import { Type } from 'typebox';

export const ErrorSchema = Type.Object(
  {
    detail: Type.String(),
    code: Type.String(),
    fields: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String()))),
  },
  { additionalProperties: true },
);

/** `{ 400: ErrorSchema, 401: ErrorSchema, … }` for the statuses a route may answer with an error. */
export function errorResponses<S extends number>(...statuses: S[]): Record<S, typeof ErrorSchema> {
  return Object.fromEntries(statuses.map((status) => [status, ErrorSchema])) as Record<S, typeof ErrorSchema>;
}
