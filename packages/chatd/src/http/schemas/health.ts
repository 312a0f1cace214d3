/** Response bodies of the probes (`/healthz`, `/readyz`). */
import { z } from 'zod';

export const healthSchema = z.strictObject({ status: z.literal('ok') }).meta({ id: 'Health' });

export const readySchema = z.strictObject({ status: z.literal('ready') }).meta({ id: 'Ready' });

export const notReadySchema = z
  .strictObject({
    status: z.literal('not_ready'),
    reasons: z.array(z.string()).describe('Why the replica is not ready (they name no secret)'),
  })
  .meta({ id: 'NotReady' });
