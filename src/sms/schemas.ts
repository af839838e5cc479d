// Request and response schemas of the phone verification API.
import { Type } from 'typebox';

export const VerificationStarted = Type.Object({
  message: Type.String(),
  request_id: Type.String({ description: "The provider's id of the verification (Vonage's request_id)" }),
});

export const CheckCodeBody = Type.Object({
  code: Type.String({ maxLength: 32, description: 'The digits received by SMS' }),
});

export const PhoneVerified = Type.Object({
  message: Type.String(),
});
