// The API as the app reaches it: Twirp with JSON on this origin, the
// clients generated from proto/ (build.mjs). The session is the HttpOnly
// cookie the gateway sets at Login; page script never holds the token.
import { TwirpFetchTransport } from "@protobuf-ts/twirp-transport";
import { RpcError } from "@protobuf-ts/runtime-rpc";
import { IdentityClient } from "../gen/identity.client";
import { PipelineClient } from "../gen/pipeline.client";
import { ActivitiesClient } from "../gen/activities.client";
import { NotificationsClient } from "../gen/notifications.client";

const transport = new TwirpFetchTransport({
    baseUrl: "/twirp",
    sendJson: true,
    useProtoMethodName: true,
    // a newer gateway may send fields this build does not know yet
    jsonOptions: { ignoreUnknownFields: true },
    fetchInit: { credentials: "same-origin" },
});

export const identity = new IdentityClient(transport);
export const pipeline = new PipelineClient(transport);
export const activities = new ActivitiesClient(transport);
export const notifications = new NotificationsClient(transport);

// Login with the header that asks the gateway for a cookie session.
export const cookieSession = { meta: { "Crm-Session": "cookie" } };

// The text a person reads for a failed call: the server's own message.
export function errorText(e: unknown): string {
    if (e instanceof RpcError) return e.message;
    if (e instanceof Error) return e.message;
    return String(e);
}

export function isUnauthenticated(e: unknown): boolean {
    return e instanceof RpcError && e.code === "unauthenticated";
}
