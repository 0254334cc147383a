// The app's one live connection: GET /v1/stream (Server-Sent Events, the
// session cookie authenticates it), shared by the unread count in the top
// bar, the toasts, the inbox and any open chatter. The gateway sends each of
// the user's new inbox entries as an event "notification" whose id is the
// entry's id, so that the browser, reconnecting on its own after a dropped
// connection, resumes with Last-Event-ID and misses nothing.
import { signal } from "@preact/signals";
import { Notification } from "../gen/notifications";
import { errorText, isUnauthenticated, notifications } from "./api";
import { currentUser } from "./session";

export type LiveListener = (n: Notification) => void;

// The user's unread entries as the server counts them; null until known.
export const unreadCount = signal<number | null>(null);
export const unreadError = signal("");
// Bumped each time the stream (re)opens: what was shown may have missed
// entries while it was closed, so views that hold entries load again.
export const liveEpoch = signal(0);

const listeners = new Set<LiveListener>();
let source: EventSource | null = null;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let retryMs = 1000;
let countTimer: ReturnType<typeof setTimeout> | undefined;

// Calls fn with every entry that arrives until the returned function is called.
export function onNotification(fn: LiveListener): () => void {
    listeners.add(fn);
    return () => listeners.delete(fn);
}

// Asks the server for the unread count (after a change, or a burst of
// entries: several within 150 ms make one call).
export function refreshUnread(): void {
    clearTimeout(countTimer);
    countTimer = setTimeout(async () => {
        try {
            const { response } = await notifications.unreadCount({});
            unreadCount.value = Number(response.count);
            unreadError.value = "";
        } catch (e) {
            if (isUnauthenticated(e)) currentUser.value = "signed-out";
            else unreadError.value = errorText(e);
        }
    }, 150);
}

function connect(): void {
    retryTimer = undefined;
    const es = new EventSource("/v1/stream");
    source = es;
    es.addEventListener("open", () => {
        retryMs = 1000;
        liveEpoch.value++;
        refreshUnread();
    });
    es.addEventListener("notification", (ev) => {
        let n: Notification;
        try {
            n = Notification.fromJsonString((ev as MessageEvent<string>).data, { ignoreUnknownFields: true });
        } catch {
            return; // not an entry this build can read; the count below still moves
        } finally {
            refreshUnread();
        }
        for (const fn of [...listeners]) fn(n);
    });
    es.addEventListener("error", () => {
        // A dropped connection the browser retries by itself (readyState
        // CONNECTING); a refused one (not 200: a session that ended, a
        // gateway that is stopping) closes the source for good, so it is
        // opened again here, less often each time.
        if (es.readyState !== EventSource.CLOSED || source !== es) return;
        source = null;
        // a session that ended shows here first: the count's call says so
        refreshUnread();
        retryTimer = setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 30000);
    });
}

// Back on the network: a stream that died with the old one may still look
// open (nothing tells the browser until a write fails), so open a new one
// now. Its open makes every view load again what it may have missed.
function onOnline(): void {
    if (!source && retryTimer === undefined) return; // stopped
    clearTimeout(retryTimer);
    source?.close();
    source = null;
    retryMs = 1000;
    connect();
}

// Opens the stream for the signed-in user (once however often it is asked).
export function startLive(): void {
    if (source || retryTimer !== undefined) return;
    addEventListener("online", onOnline);
    connect();
}

// Closes it (at sign out).
export function stopLive(): void {
    removeEventListener("online", onOnline);
    clearTimeout(retryTimer);
    retryTimer = undefined;
    clearTimeout(countTimer);
    source?.close();
    source = null;
    unreadCount.value = null;
}
