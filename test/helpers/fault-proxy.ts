/**
 * A fault-injecting HTTP reverse proxy for tests: it sits on 127.0.0.1 in front of a real S3 server
 * and forwards every request unchanged, streaming bodies both ways, except the requests a rule picks
 * to fail (an error status, a stall, a response cut short, a connection reset). It proves how the
 * S3 driver and the AWS SDK behind it react to a flaky network without mocking either.
 *
 * Requests are forwarded byte for byte as far as HTTP allows: same method, path and query, and the
 * client's raw headers, Host included. SigV4 signs the Host header, so the upstream server must see
 * the proxy's address the client signed, not its own.
 */
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { pipeline } from "node:stream";

export type Fault =
  /** Answer with this status and a small S3-style XML error, without contacting upstream. */
  | { kind: "status"; status: number; code?: string }
  /** Wait this long before forwarding the request (so before any response header is sent). */
  | { kind: "stall"; ms: number }
  /** Forward upstream's headers (real Content-Length included), then close after this many body bytes. */
  | { kind: "truncate"; afterBytes: number }
  /** Reset the client's connection at once, without answering. */
  | { kind: "reset" };

export interface FaultRule {
  /** e.g. "GET"; any method when omitted. */
  method?: string;
  /** Matched against the request's path and query as sent (percent-encoded); any when omitted. */
  path?: RegExp;
  /** Consumed in order, one per matching request; once empty, matching requests are forwarded. */
  faults: Fault[];
}

export interface FaultProxy {
  /** e.g. http://127.0.0.1:PORT */
  url: string;
  /** Mutable: tests may push or replace rules between requests. The first matching rule with faults left applies. */
  rules: FaultRule[];
  /** What happened to each request, in arrival order. */
  requests: Array<{ method: string; path: string; fault: Fault["kind"] | "forwarded" }>;
  /** Closes the server and every open connection, both sides. */
  close(): Promise<void>;
}

/** Default S3 error codes, chosen so the SDK classifies them as S3 would (503 is transient, not throttling). */
const s3Codes: Record<number, string> = {
  400: "BadRequest",
  403: "AccessDenied",
  404: "NoSuchKey",
  429: "SlowDown",
  500: "InternalError",
  502: "BadGateway",
  503: "ServiceUnavailable",
  504: "GatewayTimeout",
};

function sendError(res: http.ServerResponse, status: number, code: string, message: string, resource: string): void {
  const body = Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
      `<Resource>${resource.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</Resource><RequestId>fault-proxy</RequestId></Error>`,
  );
  res.writeHead(status, { "Content-Type": "application/xml", "Content-Length": body.length });
  res.end(body);
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  // Reuse upstream connections like a real client would; destroyed on close.
  const agent = new http.Agent({ keepAlive: true });
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const proxy: FaultProxy = {
    url: "",
    rules: [],
    requests: [],
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        for (const socket of sockets) socket.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };

  const pickFault = (req: http.IncomingMessage): Fault | undefined => {
    const path = req.url ?? "/";
    for (const rule of proxy.rules) {
      if (rule.method !== undefined && rule.method.toUpperCase() !== req.method) continue;
      if (rule.path !== undefined) {
        rule.path.lastIndex = 0; // a /g or /y regex keeps state between calls
        if (!rule.path.test(path)) continue;
      }
      if (rule.faults.length > 0) return rule.faults.shift();
    }
    return undefined;
  };

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, truncateAfter?: number): void => {
    const upstreamReq = http.request({
      host: upstream.hostname,
      port: upstream.port || 80,
      method: req.method,
      path: req.url,
      // Raw headers as an array keep the client's Host (node adds none of its own) and their order.
      headers: req.rawHeaders,
      agent,
    });

    let truncated = false;
    // The client waits for "100 Continue" before sending a large body (the SDK asks for it above
    // 2 MiB): pass upstream's answer on, so upstream still decides whether it wants the body.
    upstreamReq.on("continue", () => res.writeContinue());

    upstreamReq.on("response", (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, upstreamRes.rawHeaders);
      if (truncateAfter === undefined) {
        // pipeline destroys the other side when either fails: an upstream cut mid-body cuts the client too.
        pipeline(upstreamRes, res, () => {});
        return;
      }
      let left = truncateAfter;
      const cut = () => {
        truncated = true;
        upstreamRes.destroy();
        // Flush what was written (headers and the first bytes), then close: the client sees a body
        // shorter than its Content-Length.
        res.socket?.destroySoon();
      };
      if (left <= 0) {
        res.flushHeaders();
        cut();
        return;
      }
      upstreamRes.on("data", (chunk: Buffer) => {
        if (chunk.length < left) {
          left -= chunk.length;
          if (!res.write(chunk)) {
            upstreamRes.pause();
            res.once("drain", () => upstreamRes.resume());
          }
          return;
        }
        res.write(chunk.subarray(0, left));
        cut();
      });
      upstreamRes.on("end", () => res.end()); // a body shorter than the cut point passes whole
      upstreamRes.on("error", () => res.destroy());
    });

    upstreamReq.on("error", (error) => {
      if (truncated) return; // our own cut: let destroySoon deliver the bytes already written
      if (!res.headersSent)
        sendError(res, 502, "BadGateway", `fault-proxy: upstream failed: ${error.message}`, req.url ?? "/");
      else res.destroy();
    });

    // A client gone before the answer is complete: stop the upstream request too.
    res.on("close", () => {
      if (!res.writableFinished) upstreamReq.destroy();
    });

    // Not pipeline(): an upstream failure must not destroy the client's socket before the 502 goes out.
    req.pipe(upstreamReq);
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const fault = pickFault(req);
    proxy.requests.push({ method: req.method ?? "", path: req.url ?? "/", fault: fault?.kind ?? "forwarded" });
    switch (fault?.kind) {
      case undefined:
        forward(req, res);
        return;
      case "status":
        req.resume(); // discard any body the client sends anyway, so the connection stays usable
        sendError(
          res,
          fault.status,
          fault.code ?? s3Codes[fault.status] ?? "InjectedFault",
          `fault-proxy: injected HTTP ${fault.status}`,
          req.url ?? "/",
        );
        return;
      case "stall": {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!res.destroyed) forward(req, res);
        }, fault.ms);
        timers.add(timer);
        res.on("close", () => {
          clearTimeout(timer);
          timers.delete(timer);
        });
        return;
      }
      case "truncate":
        forward(req, res, fault.afterBytes);
        return;
      case "reset":
        // A TCP RST, as a crashed server or a middlebox would: the client sees ECONNRESET.
        req.socket.resetAndDestroy();
        return;
    }
  };

  const server = http.createServer(handle);
  // Without this listener node answers "100 Continue" itself, before we know whether to fault or
  // what upstream says; with it, a faulted request gets its error instead and forwarding relays 100.
  server.on("checkContinue", handle);
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
