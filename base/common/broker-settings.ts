import { z } from 'zod';

/** How a kiosk or the hub reaches its MQTT broker. TLS files are paths (PEM). */
export const brokerSettingsSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^(mqtts?|wss?):\/\/[^\s]+$/, 'expected mqtt://, mqtts://, ws:// or wss:// followed by host:port')
      .describe('broker address, e.g. mqtts://hub.example.vn:8883'),
    ca: z.string().optional().describe('CA certificate that signed the broker\'s certificate (PEM)'),
    cert: z.string().optional().describe('this client\'s certificate (PEM); its CN is the MQTT username and client id'),
    key: z.string().optional().describe('this client\'s private key (PEM)'),
    protocolVersion: z.union([z.literal(4), z.literal(5)]).default(5).describe('MQTT 5 (5) or 3.1.1 (4)'),
  })
  .refine((b) => Boolean(b.cert) === Boolean(b.key), { message: 'cert and key go together', path: ['key'] });
export type BrokerSettings = z.infer<typeof brokerSettingsSchema>;
