// Schedule activity on a document: its type (a call has a date and time and
// goes on the calendar; a meeting is planned from the Calendar), summary,
// deadline (empty: the type's days from today), who does it, and a note.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { ActivityCategory, type Activity } from "../../gen/activities";
import type { DocRef } from "../../gen/common";
import { activities } from "../api";
import { parseLocal, toMicros } from "../calls/time";
import { activeUsers, displayName, loadActiveUsers } from "../calls/users";
import { currentUser } from "../session";
import { Dialog } from "../ui/Dialog";
import { failure, Field, FormAlert, submitting, type FormError } from "../ui/form";
import { activityTypes, loadActivityTypes } from "./types";

const FIELDS = ["typeId", "summary", "deadline", "plannedAt", "durationMinutes", "responsibleId", "note"] as const;

export function PlanDialog({ doc, onClose, onPlanned }: { doc: DocRef; onClose: () => void; onPlanned: (a: Activity) => void }) {
    const me = currentUser.value;
    const typeId = useSignal("");
    const summary = useSignal("");
    const deadline = useSignal("");
    const at = useSignal("");
    const duration = useSignal("15");
    const responsible = useSignal(typeof me === "object" && me ? me.id : "0");
    const note = useSignal("");
    const busy = useSignal(false);
    const error = useSignal<FormError>(null);
    const id = `plan-${doc.model}-${doc.id}`;
    useEffect(() => {
        loadActivityTypes().catch((e) => (error.value = failure(e)));
        loadActiveUsers().catch((e) => (error.value = failure(e)));
    }, []);

    // meetings are scheduled with their attendees on the Calendar
    const types = (activityTypes.value ?? []).filter((t) => !t.archived && t.category !== ActivityCategory.MEETING);
    const chosen = types.find((t) => t.id === typeId.value) ?? types.find((t) => t.category === ActivityCategory.TODO) ?? types[0];
    const isCall = chosen?.category === ActivityCategory.CALL;

    async function submit(ev: Event) {
        ev.preventDefault();
        await submitting(busy, error, async () => {
            const when = isCall ? parseLocal(at.value) : null;
            const { response } = await activities.planActivity({
                doc, typeId: chosen?.id ?? "0", summary: summary.value.trim(), note: note.value,
                deadline: isCall ? "" : deadline.value, responsibleId: responsible.value,
                plannedAt: when ? toMicros(when) : "0", durationMinutes: isCall ? Number(duration.value) || 0 : 0,
            });
            onPlanned(response);
        });
    }

    const users = activeUsers.value ?? [];
    return (
        <Dialog id={id} title="Schedule activity" class="activity-dialog" onClose={onClose}>
            <form onSubmit={submit} aria-label="Schedule activity">
                <Field id={`${id}-type`} label="Activity type" name="typeId" error={error.value}>
                    <select id={`${id}-type`} value={chosen?.id ?? ""} aria-describedby={`${id}-type-error`}
                        onChange={(e) => (typeId.value = e.currentTarget.value)}>
                        {types.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
                    </select>
                </Field>
                <Field id={`${id}-summary`} label="Summary" name="summary" error={error.value}>
                    <input id={`${id}-summary`} value={summary.value} maxLength={512} required={isCall}
                        aria-describedby={`${id}-summary-error`} onInput={(e) => (summary.value = e.currentTarget.value)} />
                </Field>
                {isCall ? (
                    <>
                        <Field id={`${id}-at`} label="Date and time" name="plannedAt" error={error.value}>
                            <input id={`${id}-at`} type="datetime-local" required value={at.value}
                                aria-describedby={`${id}-at-error`} onInput={(e) => (at.value = e.currentTarget.value)} />
                        </Field>
                        <Field id={`${id}-duration`} label="Duration (minutes)" name="durationMinutes" error={error.value}>
                            <input id={`${id}-duration`} type="number" min={0} max={1440} value={duration.value}
                                aria-describedby={`${id}-duration-error`} onInput={(e) => (duration.value = e.currentTarget.value)} />
                        </Field>
                    </>
                ) : (
                    <Field id={`${id}-deadline`} label="Deadline" name="deadline" error={error.value}>
                        <input id={`${id}-deadline`} type="date" value={deadline.value} aria-describedby={`${id}-deadline-error ${id}-deadline-hint`}
                            onInput={(e) => (deadline.value = e.currentTarget.value)} />
                        <small id={`${id}-deadline-hint`}>Empty: {chosen ? `${chosen.defaultDays} days from today` : "the type's default"}</small>
                    </Field>
                )}
                <Field id={`${id}-resp`} label="Assigned to" name="responsibleId" error={error.value}>
                    <select id={`${id}-resp`} value={responsible.value} aria-describedby={`${id}-resp-error`}
                        onChange={(e) => (responsible.value = e.currentTarget.value)}>
                        {users.map((u) => <option key={u.id} value={u.id}>{displayName(u)}</option>)}
                    </select>
                </Field>
                <Field id={`${id}-note`} label="Note" name="note" error={error.value}>
                    <textarea id={`${id}-note`} rows={3} maxLength={4000} value={note.value}
                        aria-describedby={`${id}-note-error`} onInput={(e) => (note.value = e.currentTarget.value)} />
                </Field>
                <FormAlert error={error.value} fields={FIELDS} />
                <div class="dialog-actions">
                    <button type="submit" disabled={busy.value || !chosen}>Schedule</button>
                    <button type="button" onClick={onClose}>Back</button>
                </div>
            </form>
        </Dialog>
    );
}
