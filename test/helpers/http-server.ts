/** Plain HTTP servers on 127.0.0.1, for tests of how a client meets a failing or missing server. */
import http from "node:http";
import type { AddressInfo } from "node:net";

/** Runs `use` with the endpoint of a server that answers with `handler`, then closes the server. */
export async function withHttpServer<T>(
  handler: http.RequestListener,
  use: (endpoint: string) => Promise<T>,
): Promise<T> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    return await use(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
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
