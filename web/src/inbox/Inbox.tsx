// The Inbox (/inbox): the user's notifications, newest first, a page at a
// time; unread ones marked in words; Mark read each, Mark all read; each
// links to its document and to its discussion. New entries arrive live.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { ListInboxRequest, MarkReadRequest, type Notification } from "../../gen/notifications";
import { errorText, isUnauthenticated, notifications } from "../api";
import { discussionPath, docPath, isDocModel, modelNames } from "../chatter/doc";
import { formatDateTime } from "../format";
import { liveEpoch, onNotification, refreshUnread, unreadCount } from "../live";
import { currentUser } from "../session";

const PAGE = 50;

export function Inbox() {
    const entries = useSignal<Notification[] | null>(null);
    const nextPage = useSignal("");
    const unreadOnly = useSignal(false);
    const error = useSignal("");
    const busy = useSignal(false);

    function failed(e: unknown) {
        if (isUnauthenticated(e)) currentUser.value = "signed-out";
        else error.value = errorText(e);
    }

    async function load(pageToken = "") {
        try {
            const { response } = await notifications.listInbox(ListInboxRequest.create({
                unreadOnly: unreadOnly.value, pageSize: PAGE, pageToken,
            }));
            const before = pageToken ? entries.value ?? [] : [];
            const known = new Set(before.map((n) => n.id));
            entries.value = [...before, ...response.notifications.filter((n) => !known.has(n.id))];
            nextPage.value = response.nextPageToken;
            error.value = "";
        } catch (e) {
            failed(e);
        }
    }

    useEffect(() => void load(), [unreadOnly.value]);
    useEffect(() => onNotification((n) => {
        if (entries.value && !entries.value.some((e) => e.id === n.id)) entries.value = [n, ...entries.value];
    }), []);
    useEffect(() => {
        let first = true; // subscribe calls at once: the load above has that
        return liveEpoch.subscribe(() => {
            if (!first) void load();
            first = false;
        });
    }, []);

    // shows the entries as read once the server has them so
    function markedRead(ids: Set<string>) {
        entries.value = (entries.value ?? [])
            .map((n) => (ids.has(n.id) ? { ...n, read: true } : n))
            .filter((n) => !unreadOnly.value || !n.read);
        refreshUnread();
    }

    async function markRead(n: Notification) {
        busy.value = true;
        error.value = "";
        try {
            await notifications.markRead(MarkReadRequest.create({ ids: [n.id] }));
            markedRead(new Set([n.id]));
        } catch (e) {
            failed(e);
        } finally {
            busy.value = false;
        }
    }

    async function markAllRead() {
        busy.value = true;
        error.value = "";
        try {
            await notifications.markAllRead({});
            markedRead(new Set(entries.value?.map((n) => n.id)));
        } catch (e) {
            failed(e);
        } finally {
            busy.value = false;
        }
    }

    const count = unreadCount.value;
    return (
        <section class="inbox" aria-labelledby="inbox-title">
            <div class="inbox-head">
                <h1 id="inbox-title">Inbox</h1>
                <p class="inbox-count">{count === null ? "" : count === 1 ? "1 unread" : `${count} unread`}</p>
                <label class="check">
                    <input type="checkbox" checked={unreadOnly.value}
                        onChange={(e) => (unreadOnly.value = e.currentTarget.checked)} />
                    Unread only
                </label>
                <button type="button" onClick={markAllRead} disabled={busy.value || count === 0}>Mark all read</button>
            </div>
            {error.value && <p class="error" role="alert">{error.value}</p>}
            {entries.value === null ? <p role="status">Loading…</p> : entries.value.length === 0
                ? <p>{unreadOnly.value ? "No unread notifications." : "No notifications yet."}</p>
                : (
                    <ol class="inbox-entries" aria-label="Notifications">
                        {entries.value.map((n) => {
                            const doc = n.doc ?? { model: "", id: "0" };
                            const kind = isDocModel(doc.model) ? modelNames[doc.model] : doc.model;
                            const docName = n.docName || `${kind} ${doc.id}`;
                            return (
                                <li key={n.id} class={n.read ? "read" : "unread"}>
                                    <p class="meta">
                                        <span class="state">{n.read ? "Read" : "Unread"}</span>
                                        {" · "}{n.authorName || "System"}
                                        {" · "}<time>{formatDateTime(n.at)}</time>
                                    </p>
                                    <p class="summary">{n.summary}</p>
                                    {/* a meeting on no document, or one the user may not read */}
                                    {!doc.model ? <p class="links"><a href="/calendar">Calendar</a></p> : <p class="links">
                                        {kind}: {isDocModel(doc.model)
                                            ? <a href={docPath(doc)}>{docName}</a> : docName}
                                        {isDocModel(doc.model) && (
                                            <> · <a href={discussionPath(doc)} aria-label={`Open discussion: ${docName}`}>Open discussion</a></>
                                        )}
                                    </p>}
                                    {!n.read && (
                                        <button type="button" onClick={() => markRead(n)} disabled={busy.value}
                                            aria-label={`Mark read: ${n.summary}`}>Mark read</button>
                                    )}
                                </li>
                            );
                        })}
                    </ol>
                )}
            {nextPage.value && <button type="button" onClick={() => load(nextPage.value)}>Older notifications</button>}
        </section>
    );
}
