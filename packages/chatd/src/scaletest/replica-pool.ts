import { ChatdClient } from './chatd-client.js';

/**
 * The replicas a load client may talk to, as a load balancer would see them: the fault injector removes
 * a replica when it kills it and adds its replacement once it is up. Requests go round robin over the
 * live ones; a caller that failed on one asks for another.
 */
export class ReplicaPool {
  readonly #urls: string[] = [];
  readonly #clients = new Map<string, ChatdClient>();
  #next = 0;

  constructor(urls: readonly string[]) {
    for (const url of urls) this.add(url);
  }

  /** The live replicas' base URLs. */
  get urls(): readonly string[] {
    return this.#urls.slice();
  }

  add(url: string): void {
    if (!this.#urls.includes(url)) this.#urls.push(url);
  }

  remove(url: string): void {
    const index = this.#urls.indexOf(url);
    if (index !== -1) this.#urls.splice(index, 1);
  }

  /**
   * A client of `token`'s user on a live replica: the next one round robin, or the first that is not
   * `avoid` (the one that just failed) when there is another.
   */
  client(token: string, avoid?: string): ChatdClient {
    if (this.#urls.length === 0) throw new Error('no live replica');
    let url = this.#urls[this.#next++ % this.#urls.length]!;
    if (url === avoid && this.#urls.length > 1) url = this.#urls[this.#next++ % this.#urls.length]!;
    const key = `${url} ${token}`;
    let client = this.#clients.get(key);
    if (!client) {
      // No retries of its own on connection failures: the caller fails over to another replica instead.
      client = new ChatdClient(url, token, { connectionAttempts: 1 });
      this.#clients.set(key, client);
    }
    return client;
  }
}
