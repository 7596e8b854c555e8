// Loaded with `node --import` before Portkey's gateway, by the benchmark only.
//
// 1. Loopback only: the gateway listens on every interface and has no option to choose; bind 127.0.0.1.
// 2. Portkey 1.15.2 fails every streamed /v1/messages pass-through on Node with "TypeError: immutable"
//    (it appends x-portkey-* headers to the upstream fetch() Response, whose headers are immutable; upstream
//    issues Portkey-AI/gateway#1389 and #1550). Re-wrapping the fetch() Response gives it mutable headers and
//    the same body stream, so streams work; the cost is one Response object per upstream call.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "object" && args[0] !== null) {
    args[0] = { ...args[0], host: "127.0.0.1" };
  } else if (typeof args[0] === "number" && typeof args[1] !== "string") {
    args.splice(1, 0, "127.0.0.1");
  }
  return listen.apply(this, args);
};

const upstreamFetch = globalThis.fetch;
globalThis.fetch = async (...args) => {
  const response = await upstreamFetch(...args);
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
};
