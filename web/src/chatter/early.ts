// A discussion page opened straight from its address (a notification's
// link, a reload) asks for its newest messages as the app's script starts,
// beside the session check rather than after it: one round trip less
// before the chatter shows. The first chatter of that document takes the
// answer, once, while it is fresh; a failed one (no session yet) is asked
// again the ordinary way.
import type { ListMessagesReply } from "../../gen/activities";
import { activities } from "../api";
import { match } from "../router";
import { isDocModel } from "./doc";

const FRESH_MS = 10000;
let early: { key: string; reply: Promise<ListMessagesReply | null> } | null = null;

export function startEarly(pageSize: number): void {
    const at = match("/chatter/:model/:id", location.pathname);
    if (!at || !isDocModel(at.model) || !/^[1-9][0-9]*$/.test(at.id)) return;
    early = {
        key: `${at.model}/${at.id}/${pageSize}`,
        reply: activities.listMessages({ doc: { model: at.model, id: at.id }, pageSize, pageToken: "" })
            .then(({ response }) => response, () => null),
    };
}

// The early answer for this document and page size, or null.
export function takeEarly(model: string, id: string, pageSize: number): Promise<ListMessagesReply | null> | null {
    if (!early || early.key !== `${model}/${id}/${pageSize}` || performance.now() > FRESH_MS) return null;
    const { reply } = early;
    early = null;
    return reply;
}
