// My activities: the user's planned activities (and upcoming meetings) in
// three groups against today where the user is, Overdue, Today and
// Planned, each with its count; Mark done with feedback, Reschedule,
// Cancel, and a link to the document. Someone with All Leads may look at a
// colleague's.
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import type { Activity, ListMyActivitiesReply } from "../../gen/activities";
import type { User } from "../../gen/identity";
import { seesAllLeads } from "../access";
import { activities } from "../api";
import { activeUsers, displayName, loadActiveUsers } from "../calls/users";
import { todayYmd } from "../pipeline/dates";
import { failure, type FormError } from "../ui/form";
import { ActivityItem } from "./ActivityItem";

const LIMIT = 50;

type Group = { key: "overdue" | "today" | "planned"; title: string; empty: string };
const groups: Group[] = [
    { key: "overdue", title: "Overdue", empty: "Nothing overdue." },
    { key: "today", title: "Today", empty: "Nothing for today." },
    { key: "planned", title: "Planned", empty: "Nothing planned later." },
];

export function MyActivities({ user }: { user: User }) {
    const reply = useSignal<ListMyActivitiesReply | null>(null);
    const person = useSignal(user.id);
    const error = useSignal<FormError>(null);
    const notice = useSignal("");
    const asked = useRef(0);

    async function load() {
        const mine = ++asked.current;
        try {
            const { response } = await activities.listMyActivities({ today: todayYmd(), responsibleId: person.value, limit: LIMIT });
            if (mine !== asked.current) return;
            reply.value = response;
            error.value = null;
        } catch (e) {
            error.value = failure(e);
        }
    }
    useEffect(() => void load(), [person.value]);
    useEffect(() => {
        if (seesAllLeads(user)) loadActiveUsers().catch((e) => (error.value = failure(e)));
    }, []);

    function changed(text: string) {
        notice.value = text;
        void load();
    }

    const r = reply.value;
    const counts = r ? { overdue: r.overdueCount, today: r.todayCount, planned: r.plannedCount } : null;
    return (
        <section class="my-activities" aria-labelledby="activities-title">
            <h1 id="activities-title">My activities</h1>
            {seesAllLeads(user) && (
                <label class="activities-person">
                    <span>Whose</span>
                    <select value={person.value} onChange={(e) => (person.value = e.currentTarget.value)}>
                        <option value={user.id}>Mine</option>
                        {(activeUsers.value ?? []).filter((u) => u.id !== user.id).map((u) => (
                            <option key={u.id} value={u.id}>{displayName(u)}</option>
                        ))}
                    </select>
                </label>
            )}
            <p role="status" class="activities-notice">{notice.value}</p>
            {error.value && <p class="error" role="alert">{error.value.message}</p>}
            {!r ? <p role="status">Loading…</p> : groups.map((g) => {
                const list: Activity[] = r[g.key];
                const count = Number(counts![g.key]);
                return (
                    <section key={g.key} class={`activity-group group-${g.key}`} aria-labelledby={`group-${g.key}`}>
                        <h2 id={`group-${g.key}`}>{g.title} <span class="group-count">({count})</span></h2>
                        {list.length === 0 ? <p>{g.empty}</p> : (
                            <ul class="activity-list" aria-label={g.title}>
                                {list.map((a) => (
                                    <ActivityItem key={a.id !== "0" ? a.id : `m${a.meetingId}`} activity={a} showDoc onChanged={changed} />
                                ))}
                            </ul>
                        )}
                        {count > list.length && <p>{count - list.length} more not shown.</p>}
                    </section>
                );
            })}
        </section>
    );
}
