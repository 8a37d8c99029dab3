/** Plain HTTP servers on loopback, for tests of how a client meets a failing, odd or missing server. */
import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Runs `use` with the endpoint of a server that answers with `handler`, then closes the server.
 * `host` is 127.0.0.1, or "::1" for an IPv6 endpoint (`http://[::1]:port`).
 */
export async function withHttpServer<T>(
  handler: http.RequestListener,
  use: (endpoint: string) => Promise<T>,
  host = "127.0.0.1",
): Promise<T> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await use(`http://${host.includes(":") ? `[${host}]` : host}:${port}`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** An endpoint where nothing listens: a port the system just handed out and took back. */
export async function deadEndpoint(): Promise<string> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
