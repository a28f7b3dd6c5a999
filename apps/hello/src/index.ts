// The hello app: a fetch-event handler. The Spin JS SDK (componentize-js) turns each incoming
// wasi:http request into a Request and sends it to the "fetch" listener.
//   GET /           -> 200 "hello from spin-cloud"
//   GET /echo?x=... -> 200 with the value of x
//   anything else   -> 404 (other paths) or 405 (other methods)

const GREETING = "hello from spin-cloud";

function text(body: string, status = 200, headers: Record<string, string> = {}): Response {
    return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
}

function handle(request: Request): Response {
    const url = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") {
        return text("method not allowed", 405, { allow: "GET, HEAD" });
    }
    switch (url.pathname) {
        case "/":
            return text(GREETING);
        case "/echo":
            return text(url.searchParams.get("x") ?? "");
        default:
            return text("not found", 404);
    }
}

addEventListener("fetch", ((event: FetchEvent) => {
    event.respondWith(handle(event.request));
}) as EventListener);
