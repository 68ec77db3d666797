import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';

/**
 * An in-process MQTT broker (aedes) on a loopback port, the embedded default for a single machine
 * (the demo) where no broker exists yet. MQTT 3.1.1 only, no TLS, no authentication, and its shared
 * subscriptions deliver nothing: a real deployment uses Mosquitto (see README).
 */
export class EmbeddedBroker {
  private broker: Aedes | undefined;
  private server: Server | undefined;
  port = 0;

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<void> {
    const broker = await Aedes.createBroker();
    const server = createServer(broker.handle);
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    this.broker = broker;
    this.server = server;
    this.port = (server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    const broker = this.broker;
    this.server = undefined;
    this.broker = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
  }
}
