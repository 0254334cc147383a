// Schedule a meeting: a title, when it starts and ends, where, what it is
// for, who attends (the organiser always does) and, if it is about one, the
// lead or opportunity. It goes on every attendee's calendar. Given a
// meeting, the same form changes it (UpdateMeeting; its document stays).
import { useSignal } from "@preact/signals";
import { ScheduleMeetingRequest, UpdateMeetingRequest, type Meeting } from "../../gen/activities";
import type { User } from "../../gen/identity";
import type { Lead } from "../../gen/pipeline";
import { activities } from "../api";
import { Field, FormAlert, failure, type FormError } from "../ui/form";
import { DocPicker } from "./DocPicker";
import { addDays, fromMicros, localInputValue, parseLocal, toMicros } from "./time";
import { activeUsers, displayName } from "./users";

const FIELDS = ["doc.id", "title", "startAt", "endAt", "location", "description", "attendeeIds"] as const;

// every field UpdateMeeting takes: the form shows them all
const UPDATE_MASK = ["title", "start_at", "end_at", "location", "description", "attendee_ids"];

type Props = { user: User; day: Date; meeting?: Meeting; onDone: (m: Meeting) => void; onCancel: () => void };

// The server names one attendee ("attendeeIds[2]"); the form shows it under
// the attendees.
function attendeeError(e: FormError): FormError {
    return e && e.field.startsWith("attendeeIds") ? { ...e, field: "attendeeIds" } : e;
}

export function MeetingForm({ user, day, meeting, onDone, onCancel }: Props) {
    // the next full hour today, or ten o'clock on a day of another week
    const start0 = new Date();
    start0.setHours(start0.getHours() + 1, 0, 0, 0);
    const first = day.getTime() > start0.getTime() || addDays(day, 7).getTime() < start0.getTime()
        ? new Date(day.getFullYear(), day.getMonth(), day.getDate(), 10) : start0;
    const organiser = meeting ? meeting.organizerId : user.id;
    const title = useSignal(meeting?.title ?? "");
    const start = useSignal(localInputValue(meeting ? fromMicros(meeting.startAt) : first));
    const end = useSignal(localInputValue(meeting ? fromMicros(meeting.endAt) : new Date(first.getTime() + 3600_000)));
    const location = useSignal(meeting?.location ?? "");
    const description = useSignal(meeting?.description ?? "");
    const attendees = useSignal<ReadonlySet<string>>(new Set(meeting?.attendeeIds.filter((id) => id !== organiser) ?? []));
    const find = useSignal("");
    const lead = useSignal<Lead | null>(null);
    const error = useSignal<FormError>(null);
    const busy = useSignal(false);

    function toggle(id: string, on: boolean) {
        const next = new Set(attendees.value);
        if (on) next.add(id);
        else next.delete(id);
        attendees.value = next;
    }

    // the end follows the start, keeping the length, as a calendar does
    function moveStart(value: string) {
        const before = parseLocal(start.value), after = parseLocal(value), endAt = parseLocal(end.value);
        start.value = value;
        if (before && after && endAt) end.value = localInputValue(new Date(after.getTime() + endAt.getTime() - before.getTime()));
    }

    async function submit(ev: Event) {
        ev.preventDefault();
        error.value = null;
        const startAt = parseLocal(start.value), endAt = parseLocal(end.value);
        if (!startAt || !endAt) return;
        busy.value = true;
        const fields = {
            title: title.value, startAt: toMicros(startAt), endAt: toMicros(endAt),
            location: location.value, description: description.value, attendeeIds: [...attendees.value],
        };
        try {
            const { response } = meeting
                ? await activities.updateMeeting(UpdateMeetingRequest.create({ id: meeting.id, ...fields, updateMask: { paths: UPDATE_MASK } }))
                : await activities.scheduleMeeting(ScheduleMeetingRequest.create({
                    doc: lead.value ? { model: "lead", id: lead.value.id } : undefined, ...fields,
                }));
            onDone(response);
        } catch (e) {
            error.value = attendeeError(failure(e));
        } finally {
            busy.value = false;
        }
    }

    const others = (activeUsers.value ?? []).filter((u) => u.id !== organiser);
    const organiserUser = (activeUsers.value ?? []).find((u) => u.id === organiser) ?? user;
    const heading = meeting ? "Change the meeting" : "Schedule a meeting";
    // those chosen stay in sight whatever the search
    const needle = find.value.trim().toLocaleLowerCase();
    const shown = needle
        ? others.filter((u) => attendees.value.has(u.id) || `${u.name} ${u.login}`.toLocaleLowerCase().includes(needle))
        : others;
    const attendeeMsg = error.value?.field === "attendeeIds" ? error.value.message : "";
    return (
        <form class="meetingform" onSubmit={submit} aria-labelledby="meeting-title">
            <h2 id="meeting-title">{heading}</h2>
            <Field id="meeting-name" label="Title" name="title" error={error.value}>
                <input id="meeting-name" required maxLength={256} aria-describedby="meeting-name-error"
                    value={title.value} onInput={(e) => (title.value = e.currentTarget.value)} />
            </Field>
            <div class="callform-row">
                <Field id="meeting-start" label="Start" name="startAt" error={error.value}>
                    <input id="meeting-start" type="datetime-local" required aria-describedby="meeting-start-error"
                        value={start.value} onInput={(e) => moveStart(e.currentTarget.value)} />
                </Field>
                <Field id="meeting-end" label="End" name="endAt" error={error.value}>
                    <input id="meeting-end" type="datetime-local" required aria-describedby="meeting-end-error"
                        value={end.value} onInput={(e) => (end.value = e.currentTarget.value)} />
                </Field>
            </div>
            <Field id="meeting-location" label="Location" name="location" error={error.value}>
                <input id="meeting-location" maxLength={256} aria-describedby="meeting-location-error"
                    value={location.value} onInput={(e) => (location.value = e.currentTarget.value)} />
            </Field>
            <Field id="meeting-description" label="Description" name="description" error={error.value}>
                <textarea id="meeting-description" rows={3} maxLength={4000} aria-describedby="meeting-description-error"
                    value={description.value} onInput={(e) => (description.value = e.currentTarget.value)} />
            </Field>
            <fieldset class={attendeeMsg ? "meeting-attendees invalid" : "meeting-attendees"} aria-describedby="meeting-attendees-error">
                <legend>Attendees</legend>
                <p class="meeting-organiser">{displayName(organiserUser)} (organiser)</p>
                {others.length > 10 && (
                    <div class="meeting-find">
                        <label for="meeting-find">Find people</label>
                        <input id="meeting-find" type="search" value={find.value} onInput={(e) => (find.value = e.currentTarget.value)} />
                    </div>
                )}
                {activeUsers.value === null ? <p role="status">Loading…</p> : others.length === 0
                    ? <p>There are no other users.</p>
                    : shown.length === 0 ? <p>No one by that name.</p>
                    : (
                        <ul>
                            {shown.map((u) => (
                                <li key={u.id}>
                                    <label>
                                        <input type="checkbox" checked={attendees.value.has(u.id)}
                                            onChange={(e) => toggle(u.id, e.currentTarget.checked)} />
                                        {displayName(u)}
                                    </label>
                                </li>
                            ))}
                        </ul>
                    )}
                <p id="meeting-attendees-error" class="field-error" role={attendeeMsg ? "alert" : undefined}>{attendeeMsg}</p>
            </fieldset>
            {!meeting && <DocPicker id="meeting-doc" optional error={error.value} chosen={lead.value} onChoose={(l) => (lead.value = l)} />}
            <FormAlert error={error.value} fields={FIELDS} />
            <div class="callform-actions">
                <button type="submit" disabled={busy.value}>{meeting ? "Save" : "Schedule"}</button>
                <button type="button" onClick={onCancel}>Discard</button>
            </div>
        </form>
    );
}
