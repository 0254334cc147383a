// One planned activity: its type and summary, the document it is on (a
// link), its deadline (overdue in red, today in amber, said in words), who
// does it, and Mark done, Reschedule and Cancel. A meeting shows as one
// but is changed on the Calendar.
import { useSignal } from "@preact/signals";
import { ActivityCategory, type Activity } from "../../gen/activities";
import { activities } from "../api";
import { docPath } from "../calls/docs";
import { failure, type FormError } from "../ui/form";
import { DoneDialog } from "./DoneDialog";
import { RescheduleDialog } from "./RescheduleDialog";
import { activityTitle, categoryWords, dueClass, dueText } from "./types";

type Props = { activity: Activity; showDoc: boolean; onChanged: (notice: string) => void };

export function ActivityItem({ activity: a, showDoc, onChanged }: Props) {
    const dialog = useSignal<"done" | "reschedule" | null>(null);
    const error = useSignal<FormError>(null);
    const busy = useSignal(false);
    const title = activityTitle(a);
    const isMeeting = a.category === ActivityCategory.MEETING;
    const labelId = `activity-${a.id !== "0" ? a.id : `m${a.meetingId}`}`;

    async function cancel() {
        busy.value = true;
        error.value = null;
        try {
            await activities.cancelActivity({ id: a.id });
            onChanged(`Cancelled: ${title}`);
        } catch (e) {
            error.value = failure(e);
        } finally {
            busy.value = false;
        }
    }

    return (
        <li class="activity" aria-labelledby={labelId}>
            <p class="activity-head">
                <span class="activity-type">{a.typeName || categoryWords[a.category]}</span>{" "}
                <strong id={labelId}>{title}</strong>
            </p>
            <p class="activity-meta">
                <span class={dueClass(a)}>{dueText(a)}</span>
                {showDoc && a.doc && <> · <a href={docPath(a.doc)}>{a.docName || `${a.doc.model} ${a.doc.id}`}</a></>}
                {a.responsibleName && <> · {a.responsibleName}</>}
            </p>
            {a.note && <p class="activity-note">{a.note}</p>}
            {isMeeting ? (
                <p class="activity-actions"><a href="/calendar">Open the calendar</a></p>
            ) : (
                <p class="activity-actions">
                    <button type="button" aria-describedby={labelId} onClick={() => (dialog.value = "done")}>Mark done</button>
                    <button type="button" aria-describedby={labelId} onClick={() => (dialog.value = "reschedule")}>Reschedule</button>
                    <button type="button" aria-describedby={labelId} disabled={busy.value} onClick={cancel}>Cancel activity</button>
                </p>
            )}
            {error.value && <p class="error" role="alert">{error.value.message}</p>}
            {dialog.value === "done" && (
                <DoneDialog activity={a} onClose={() => (dialog.value = null)}
                    onDone={() => { dialog.value = null; onChanged(`Done: ${title}`); }} />
            )}
            {dialog.value === "reschedule" && (
                <RescheduleDialog activity={a} onClose={() => (dialog.value = null)}
                    onDone={(n) => { dialog.value = null; onChanged(`Rescheduled: ${activityTitle(n)}`); }} />
            )}
        </li>
    );
}
