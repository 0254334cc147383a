// The next planned activity of each card on the board (NextActivities, 200
// documents a call), kept by lead id: read again whenever the board's
// cards change. A failure leaves the cards without it: the board itself
// is what matters there.
import { signal } from "@preact/signals";
import type { Activity } from "../../gen/activities";
import { activities } from "../api";
import { todayYmd } from "./dates";

const BATCH = 200;

export const nextActivities = signal<ReadonlyMap<string, { next: Activity; count: number }>>(new Map());
let asked = 0;

export async function loadNextActivities(leadIds: string[]): Promise<void> {
    const mine = ++asked;
    const found = new Map<string, { next: Activity; count: number }>();
    const today = todayYmd();
    try {
        for (let i = 0; i < leadIds.length; i += BATCH) {
            const docs = leadIds.slice(i, i + BATCH).map((id) => ({ model: "lead", id }));
            const { response } = await activities.nextActivities({ docs, today });
            for (const item of response.items)
                if (item.doc && item.next) found.set(item.doc.id, { next: item.next, count: item.plannedCount });
        }
    } catch {
        return;
    }
    if (mine === asked) nextActivities.value = found;
}
