// Mark done: the activity's feedback (optional), written in the chatter
// with it; the server's refusal shown under Feedback or in the dialog.
import { useSignal } from "@preact/signals";
import type { Activity } from "../../gen/activities";
import { activities } from "../api";
import { Dialog } from "../ui/Dialog";
import { Field, FormAlert, submitting, type FormError } from "../ui/form";
import { activityTitle } from "./types";

export function DoneDialog({ activity, onClose, onDone }: { activity: Activity; onClose: () => void; onDone: (a: Activity) => void }) {
    const feedback = useSignal("");
    const busy = useSignal(false);
    const error = useSignal<FormError>(null);
    const id = `done-${activity.id}`;

    async function submit(ev: Event) {
        ev.preventDefault();
        await submitting(busy, error, async () => {
            const { response } = await activities.markActivityDone({ id: activity.id, feedback: feedback.value });
            onDone(response);
        });
    }

    return (
        <Dialog id={id} title={`Mark done: ${activityTitle(activity)}`} class="activity-dialog" onClose={onClose}>
            <form onSubmit={submit} aria-label="Mark done">
                <Field id={`${id}-feedback`} label="Feedback" name="feedback" error={error.value}>
                    <textarea id={`${id}-feedback`} rows={3} maxLength={4000} value={feedback.value}
                        aria-describedby={`${id}-feedback-error`} onInput={(e) => (feedback.value = e.currentTarget.value)} />
                </Field>
                <FormAlert error={error.value} fields={["feedback"]} />
                <div class="dialog-actions">
                    <button type="submit" disabled={busy.value}>Done</button>
                    <button type="button" onClick={onClose}>Back</button>
                </div>
            </form>
        </Dialog>
    );
}
