// The chatter beside a lead, customer or quotation: its followers, Send a
// message / Log a note with files, and its messages newest first, a page
// at a time.
//
// Live: tracked changes and messages reach a user's stream only if they
// follow the document with that subtype, and notes reach no one. So an
// open chatter loads its newest page again when an entry about its
// document arrives on the stream (live.ts), and also looks every few
// seconds whether its newest message is still the newest (one message
// asked for): every 4 s when the user does not follow the document, every
// 10 s when they do (for notes and the subtypes they left out). The check
// pauses while the page is hidden.
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import type { ListMessagesReply, Message } from "../../gen/activities";
import type { Follower } from "../../gen/notifications";
import { activities, errorText, isUnauthenticated, notifications } from "../api";
import { isManager } from "../access";
import { liveEpoch, onNotification } from "../live";
import { currentUser } from "../session";
import { ChatterMessage } from "./ChatterMessage";
import { Composer } from "./Composer";
import { loadDoc, type DocModel } from "./doc";
import { startEarly, takeEarly, takeEarlyNow } from "./early";
import { Followers } from "./Followers";
import { PlannedActivities } from "./PlannedActivities";

export type { DocModel } from "./doc";

const PAGE = 30;
const POLL_FOLLOWING_MS = 10000;
const POLL_NOT_FOLLOWING_MS = 4000;
startEarly(PAGE);

export function Chatter({ model, id }: { model: DocModel; id: string }) {
    // undefined until the first render has looked; null once used or absent
    const seed = useRef<ListMessagesReply | null | undefined>(undefined);
    if (seed.current === undefined) seed.current = takeEarlyNow(model, id, PAGE);
    const messages = useSignal<Message[] | null>(seed.current?.messages ?? null);
    const nextPage = useSignal(seed.current?.nextPageToken ?? "");
    const followers = useSignal<Follower[] | null>(null);
    const salespersonId = useSignal("0");
    const error = useSignal("");
    const loadingOlder = useSignal(false);
    const me = currentUser.value;
    const retry = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
    const doc = { model, id };
    // the document shown now: an answer about another (the props changed
    // while it was on its way) is dropped
    const shownDoc = useRef("");
    shownDoc.current = `${model}/${id}`;
    const stillShown = () => shownDoc.current === `${model}/${id}`;

    function failed(e: unknown) {
        if (isUnauthenticated(e)) currentUser.value = "signed-out";
        else error.value = errorText(e);
    }

    // The newest page, merged with what is shown: messages never change
    // once written, so those already there stay, new ones go on top. When
    // the whole page is new, older ones may be missing between: start over.
    async function loadNewest(): Promise<number> {
        try {
            const response = await takeEarly(model, id, PAGE) ??
                (await activities.listMessages({ doc, pageSize: PAGE, pageToken: "" })).response;
            if (!stillShown()) return 0;
            const shown = messages.value;
            const known = new Set(shown?.map((m) => m.id));
            const fresh = response.messages.filter((m) => !known.has(m.id));
            if (!shown || (fresh.length === response.messages.length && response.nextPageToken)) {
                messages.value = response.messages;
                nextPage.value = response.nextPageToken;
            } else if (fresh.length) {
                messages.value = [...fresh, ...shown];
            }
            error.value = "";
            return fresh.length;
        } catch (e) {
            failed(e);
            return 0;
        }
    }

    // Notifications and activities each apply pipeline's events on their
    // own, so the entry about a change may come before the chatter has the
    // change's message: look again a few times until something new shows.
    async function loadAfterNotice(delays = [300, 1000, 2500]) {
        clearTimeout(retry.current);
        if ((await loadNewest()) > 0 || delays.length === 0) return;
        retry.current = setTimeout(() => void loadAfterNotice(delays.slice(1)), delays[0]);
    }

    async function loadOlder() {
        loadingOlder.value = true;
        try {
            const { response } = await activities.listMessages({ doc, pageSize: PAGE, pageToken: nextPage.value });
            if (!stillShown()) return;
            const known = new Set(messages.value?.map((m) => m.id));
            messages.value = [...(messages.value ?? []), ...response.messages.filter((m) => !known.has(m.id))];
            nextPage.value = response.nextPageToken;
        } catch (e) {
            failed(e);
        } finally {
            loadingOlder.value = false;
        }
    }

    async function loadFollowers() {
        const { response } = await notifications.listFollowers({ doc });
        if (stillShown()) followers.value = response.followers;
    }

    useEffect(() => {
        if (seed.current) {
            seed.current = null; // the first page came with the app's script
        } else {
            messages.value = null;
            void loadNewest();
        }
        followers.value = null;
        error.value = "";
        loadFollowers().catch(failed);
        salespersonId.value = "0";
        loadDoc(model, id).then((d) => stillShown() && (salespersonId.value = d.salespersonId), failed);
    }, [model, id]);

    // entries about this document, and a stream that opened again
    useEffect(() => onNotification((n) => {
        if (n.doc?.model === model && n.doc.id === id) void loadAfterNotice();
    }), [model, id]);
    useEffect(() => () => clearTimeout(retry.current), [model, id]);
    useEffect(() => {
        let first = true; // subscribe calls at once: the load above has that
        return liveEpoch.subscribe(() => {
            if (!first) void loadNewest();
            first = false;
        });
    }, [model, id]);

    const followingMe = typeof me === "object" && me !== null && !!followers.value?.some((f) => f.userId === me.id);
    useEffect(() => {
        const timer = setInterval(async () => {
            if (document.visibilityState !== "visible") return;
            try {
                const { response } = await activities.listMessages({ doc, pageSize: 1, pageToken: "" });
                const top = response.messages[0]?.id;
                if (top && top !== messages.value?.[0]?.id) await loadNewest();
                else error.value = ""; // back after a failed look
            } catch (e) {
                failed(e);
            }
        }, followingMe ? POLL_FOLLOWING_MS : POLL_NOT_FOLLOWING_MS);
        return () => clearInterval(timer);
    }, [model, id, followingMe]);

    if (typeof me !== "object" || me === null) return null;
    const canManage = isManager(me) || (salespersonId.value !== "0" && salespersonId.value === me.id);
    const titleId = `chatter-${model}-${id}`;
    return (
        <aside class="chatter" aria-labelledby={titleId}>
            <h2 id={titleId}>Chatter</h2>
            <Followers doc={doc} me={me} followers={followers.value} canManage={canManage} onChange={loadFollowers} />
            <Composer doc={doc} onPosted={() => void loadNewest()} />
            <PlannedActivities doc={doc} onChanged={() => void loadNewest()} />
            {error.value && <p class="error" role="alert">{error.value}</p>}
            {messages.value === null ? <p role="status">Loading…</p> : (
                <>
                    <ol class="messages" aria-label="Messages">
                        {messages.value.map((m) => <ChatterMessage key={m.id} message={m} />)}
                    </ol>
                    {messages.value.length === 0 && <p>No messages yet.</p>}
                    {nextPage.value && (
                        <button type="button" onClick={loadOlder} disabled={loadingOlder.value}>Older messages</button>
                    )}
                </>
            )}
        </aside>
    );
}
