// Log a call (one already held: when, how long, what was said) and
// Schedule a call (planned for a date, for a responsible, put on their
// calendar); both on a lead or opportunity, both written in its chatter by
// the server.
import { useSignal } from "@preact/signals";
import { LogCallRequest, ScheduleCallRequest, type Call } from "../../gen/activities";
import type { User } from "../../gen/identity";
import type { Lead } from "../../gen/pipeline";
import { activities } from "../api";
import { Field, FormAlert, failure, type FormError } from "../ui/form";
import { DocPicker } from "./DocPicker";
import { localInputValue, parseLocal, toMicros } from "./time";
import { activeUsers, displayName } from "./users";

export type CallFormMode = "log" | "schedule";

const FIELDS = ["doc.id", "summary", "at", "plannedAt", "durationMinutes", "responsibleId"] as const;

type Props = {
    mode: CallFormMode;
    user: User;
    lead: Lead | null;          // the document to start with, if any
    onDone: (call: Call) => void;
    onCancel: () => void;
};

function nextHour(): Date {
    const d = new Date();
    d.setHours(d.getHours() + 1, 0, 0, 0);
    return d;
}

export function CallForm({ mode, user, lead, onDone, onCancel }: Props) {
    const log = mode === "log";
    const prefix = log ? "log-call" : "schedule-call";
    const chosen = useSignal<Lead | null>(lead);
    const summary = useSignal("");
    const when = useSignal(localInputValue(log ? new Date() : nextHour()));
    const duration = useSignal(log ? "5" : "30");
    const responsible = useSignal(user.id);
    const error = useSignal<FormError>(null);
    const busy = useSignal(false);

    async function submit(ev: Event) {
        ev.preventDefault();
        error.value = null;
        const at = parseLocal(when.value);
        if (!chosen.value || !at) return; // the browser's own checks (required) say which
        busy.value = true;
        const doc = { model: "lead", id: chosen.value.id };
        const durationMinutes = Number(duration.value);
        try {
            const { response } = log
                ? await activities.logCall(LogCallRequest.create({
                    doc, summary: summary.value, durationMinutes, at: toMicros(at) }))
                : await activities.scheduleCall(ScheduleCallRequest.create({
                    doc, summary: summary.value, durationMinutes, plannedAt: toMicros(at),
                    responsibleId: responsible.value }));
            onDone(response);
        } catch (e) {
            error.value = failure(e);
        } finally {
            busy.value = false;
        }
    }

    const title = log ? "Log a call" : "Schedule a call";
    const users = activeUsers.value ?? [user];
    return (
        <form class="callform" onSubmit={submit} aria-labelledby={`${prefix}-title`}>
            <h2 id={`${prefix}-title`}>{title}</h2>
            <DocPicker id={`${prefix}-doc`} error={error.value} chosen={chosen.value}
                onChoose={(l) => (chosen.value = l)} />
            <Field id={`${prefix}-summary`} label="Summary" name="summary" error={error.value}>
                <input id={`${prefix}-summary`} required maxLength={512} aria-describedby={`${prefix}-summary-error`}
                    value={summary.value} onInput={(e) => (summary.value = e.currentTarget.value)} />
            </Field>
            <div class="callform-row">
                <Field id={`${prefix}-at`} label={log ? "Date" : "Planned date"} name={log ? "at" : "plannedAt"} error={error.value}>
                    <input id={`${prefix}-at`} type="datetime-local" required aria-describedby={`${prefix}-at-error`}
                        value={when.value} onInput={(e) => (when.value = e.currentTarget.value)} />
                </Field>
                <Field id={`${prefix}-duration`} label="Duration (minutes)" name="durationMinutes" error={error.value}>
                    <input id={`${prefix}-duration`} type="number" min={0} max={1440} step={1} required
                        aria-describedby={`${prefix}-duration-error`}
                        value={duration.value} onInput={(e) => (duration.value = e.currentTarget.value)} />
                </Field>
                {!log && (
                    <Field id={`${prefix}-responsible`} label="Responsible" name="responsibleId" error={error.value}>
                        <select id={`${prefix}-responsible`} aria-describedby={`${prefix}-responsible-error`}
                            value={responsible.value} onChange={(e) => (responsible.value = e.currentTarget.value)}>
                            {users.map((u) => <option key={u.id} value={u.id}>{displayName(u)}</option>)}
                        </select>
                    </Field>
                )}
            </div>
            <FormAlert error={error.value} fields={FIELDS} />
            <div class="callform-actions">
                <button type="submit" disabled={busy.value}>{log ? "Log" : "Schedule"}</button>
                <button type="button" onClick={onCancel}>Discard</button>
            </div>
        </form>
    );
}
