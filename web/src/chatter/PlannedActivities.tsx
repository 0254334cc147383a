// The planned activities of a document, in its chatter column: by
// deadline, each with Mark done, Reschedule and Cancel, and Schedule
// activity. The chatter shows what was done (the feedback message).
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { ActivityState, type Activity } from "../../gen/activities";
import type { DocRef } from "../../gen/common";
import { activities } from "../api";
import { ActivityItem } from "../activities/ActivityItem";
import { PlanDialog } from "../activities/PlanDialog";
import { activityTitle } from "../activities/types";
import { todayYmd } from "../pipeline/dates";
import { failure, type FormError } from "../ui/form";

export function PlannedActivities({ doc, onChanged }: { doc: DocRef; onChanged: () => void }) {
    const list = useSignal<Activity[] | null>(null);
    const planning = useSignal(false);
    const error = useSignal<FormError>(null);
    const notice = useSignal("");
    const titleId = `planned-${doc.model}-${doc.id}`;

    async function load() {
        try {
            const { response } = await activities.listActivities({
                doc, responsibleId: "0", state: ActivityState.PLANNED, today: todayYmd(), pageSize: 100, pageToken: "",
            });
            list.value = response.activities;
            error.value = null;
        } catch (e) {
            error.value = failure(e);
        }
    }
    useEffect(() => void load(), [doc.model, doc.id]);

    function changed(text: string) {
        notice.value = text;
        void load();
        onChanged(); // done writes a message in the chatter
    }

    return (
        <section class="planned-activities" aria-labelledby={titleId}>
            <h3 id={titleId}>Planned activities</h3>
            <button type="button" onClick={() => { notice.value = ""; planning.value = true; }}>Schedule activity</button>
            <p role="status" class="activities-notice">{notice.value}</p>
            {error.value && <p class="error" role="alert">{error.value.message}</p>}
            {list.value && list.value.length === 0 && <p>No planned activities.</p>}
            {list.value && list.value.length > 0 && (
                <ul class="activity-list" aria-label="Planned activities">
                    {list.value.map((a) => <ActivityItem key={a.id} activity={a} showDoc={false} onChanged={changed} />)}
                </ul>
            )}
            {planning.value && (
                <PlanDialog doc={doc} onClose={() => (planning.value = false)}
                    onPlanned={(a) => { planning.value = false; changed(`Scheduled: ${activityTitle(a)}`); }} />
            )}
        </section>
    );
}
