// A discussion page opened straight from its address (a notification's
// link, a reload) asks for its newest messages as the app's script starts,
// beside the session check rather than after it: one round trip less
// before the chatter shows. The first chatter of that document takes the
// answer, once, while it is fresh: at once if it is in already, else when
// it comes; a failed one (no session yet) is asked again the ordinary way.
import type { ListMessagesReply } from "../../gen/activities";
import { activities } from "../api";
import { match } from "../router";
import { isDocModel } from "./doc";

const FRESH_MS = 10000;
type Early = { key: string; reply: Promise<ListMessagesReply | null>; got?: ListMessagesReply };
let early: Early | null = null;

export function startEarly(pageSize: number): void {
    const at = match("/chatter/:model/:id", location.pathname);
    if (!at || !isDocModel(at.model) || !/^[1-9][0-9]*$/.test(at.id)) return;
    const e: Early = {
        key: `${at.model}/${at.id}/${pageSize}`,
        reply: activities.listMessages({ doc: { model: at.model, id: at.id }, pageSize, pageToken: "" })
            .then(({ response }) => (e.got = response), () => null),
    };
    early = e;
}

function take(model: string, id: string, pageSize: number): Early | null {
    if (!early || early.key !== `${model}/${id}/${pageSize}` || performance.now() > FRESH_MS) return null;
    const e = early;
    early = null;
    return e;
}

// The early answer for this document and page size if it is in, or null.
export function takeEarlyNow(model: string, id: string, pageSize: number): ListMessagesReply | null {
    if (!early?.got) return null;
    return take(model, id, pageSize)?.got ?? null;
}

// The early answer for this document and page size, when it comes, or null.
export function takeEarly(model: string, id: string, pageSize: number): Promise<ListMessagesReply | null> | null {
    return take(model, id, pageSize)?.reply ?? null;
}
