// Reschedule: a new deadline, or for a call a new date and time (the call
// on the calendar moves with it), and who does it.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { ActivityCategory, type Activity } from "../../gen/activities";
import { activities } from "../api";
import { fromMicros, localInputValue, parseLocal, toMicros } from "../calls/time";
import { activeUsers, displayName, loadActiveUsers } from "../calls/users";
import { Dialog } from "../ui/Dialog";
import { failure, Field, FormAlert, submitting, type FormError } from "../ui/form";
import { activityTitle } from "./types";

const FIELDS = ["deadline", "plannedAt", "responsibleId"] as const;

export function RescheduleDialog({ activity, onClose, onDone }: { activity: Activity; onClose: () => void; onDone: (a: Activity) => void }) {
    const isCall = activity.category === ActivityCategory.CALL;
    const deadline = useSignal(activity.deadline);
    const at = useSignal(isCall && activity.plannedAt !== "0" ? localInputValue(fromMicros(activity.plannedAt)) : "");
    const responsible = useSignal(activity.responsibleId);
    const busy = useSignal(false);
    const error = useSignal<FormError>(null);
    const id = `reschedule-${activity.id}`;
    useEffect(() => void loadActiveUsers().catch((e) => (error.value = failure(e))), []);

    async function submit(ev: Event) {
        ev.preventDefault();
        await submitting(busy, error, async () => {
            const paths: string[] = [];
            let plannedAt = "0";
            if (isCall) {
                const d = parseLocal(at.value);
                plannedAt = d ? toMicros(d) : "0";
                paths.push("planned_at");
            } else {
                paths.push("deadline");
            }
            if (responsible.value !== activity.responsibleId) paths.push("responsible_id");
            const { response } = await activities.updateActivity({
                id: activity.id, typeId: "0", summary: "", note: "", deadline: deadline.value, responsibleId: responsible.value,
                plannedAt, durationMinutes: 0, updateMask: { paths },
            });
            onDone(response);
        });
    }

    const users = activeUsers.value ?? [];
    return (
        <Dialog id={id} title={`Reschedule: ${activityTitle(activity)}`} class="activity-dialog" onClose={onClose}>
            <form onSubmit={submit} aria-label="Reschedule">
                {isCall ? (
                    <Field id={`${id}-at`} label="Date and time" name="plannedAt" error={error.value}>
                        <input id={`${id}-at`} type="datetime-local" required value={at.value}
                            aria-describedby={`${id}-at-error`} onInput={(e) => (at.value = e.currentTarget.value)} />
                    </Field>
                ) : (
                    <Field id={`${id}-deadline`} label="Deadline" name="deadline" error={error.value}>
                        <input id={`${id}-deadline`} type="date" required value={deadline.value}
                            aria-describedby={`${id}-deadline-error`} onInput={(e) => (deadline.value = e.currentTarget.value)} />
                    </Field>
                )}
                <Field id={`${id}-resp`} label="Assigned to" name="responsibleId" error={error.value}>
                    <select id={`${id}-resp`} value={responsible.value} aria-describedby={`${id}-resp-error`}
                        onChange={(e) => (responsible.value = e.currentTarget.value)}>
                        {!users.some((u) => u.id === activity.responsibleId) && (
                            <option value={activity.responsibleId}>{activity.responsibleName || `User ${activity.responsibleId}`}</option>
                        )}
                        {users.map((u) => <option key={u.id} value={u.id}>{displayName(u)}</option>)}
                    </select>
                </Field>
                <FormAlert error={error.value} fields={FIELDS} />
                <div class="dialog-actions">
                    <button type="submit" disabled={busy.value}>Save</button>
                    <button type="button" onClick={onClose}>Back</button>
                </div>
            </form>
        </Dialog>
    );
}
