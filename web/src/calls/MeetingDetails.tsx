// One meeting in full, in a modal dialog (GetMeeting): when, where, what
// for, what it is about, and who attends with each one's answer. An
// attendee answers (Accept, Maybe, Decline); the organiser or a sales
// manager may change it (the calendar shows the form) or cancel it.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { MeetingAnswer, MeetingState, type Meeting } from "../../gen/activities";
import type { User } from "../../gen/identity";
import { isManager } from "../access";
import { activities } from "../api";
import { Dialog } from "../ui/Dialog";
import { failure, type FormError } from "../ui/form";
import { docLabel, docPath, loadDocNames } from "./docs";
import { dateTimeFormat, fromMicros } from "./time";

export const answerWords: Record<MeetingAnswer, string> = {
    [MeetingAnswer.UNSPECIFIED]: "Not answered yet",
    [MeetingAnswer.ACCEPTED]: "Accepted",
    [MeetingAnswer.DECLINED]: "Declined",
    [MeetingAnswer.TENTATIVE]: "Maybe",
};

const ANSWERS = [
    { answer: MeetingAnswer.ACCEPTED, label: "Accept" },
    { answer: MeetingAnswer.TENTATIVE, label: "Maybe" },
    { answer: MeetingAnswer.DECLINED, label: "Decline" },
];

type Props = {
    id: string;           // the meeting's
    title: string;        // as the calendar shows it, until the meeting is read
    user: User;
    onEdit: (m: Meeting) => void;
    onChanged: (m: Meeting, what: string) => void;  // answered or cancelled
    onClose: () => void;
};

export function MeetingDetails({ id, title, user, onEdit, onChanged, onClose }: Props) {
    const meeting = useSignal<Meeting | null>(null);
    const error = useSignal<FormError>(null);
    const busy = useSignal(false);

    useEffect(() => {
        activities.getMeeting({ id }).then(({ response }) => {
            meeting.value = response;
            void loadDocNames([response.doc]);
        }, (e) => (error.value = failure(e)));
    }, [id]);

    async function run(what: (m: Meeting) => Promise<Meeting>, words: (m: Meeting) => string) {
        busy.value = true;
        error.value = null;
        try {
            const m = await what(meeting.value!);
            meeting.value = m;
            onChanged(m, words(m));
        } catch (e) {
            error.value = failure(e);
        } finally {
            busy.value = false;
        }
    }

    const m = meeting.value;
    const mine = m?.attendees.find((a) => a.userId === user.id);
    const cancelled = m?.state === MeetingState.CANCELLED;
    const mayChange = !!m && !cancelled && (m.organizerId === user.id || isManager(user));
    const start = m ? fromMicros(m.startAt) : null, end = m ? fromMicros(m.endAt) : null;
    return (
        <Dialog id="meeting-details" class="cal-details" title={m?.title ?? title} onClose={onClose}>
            {!m ? (error.value ? <p class="error" role="alert">{error.value.message}</p> : <p role="status">Loading…</p>) : (
                <>
                    <dl>
                        <dt>Kind</dt><dd>{cancelled ? "Meeting (cancelled)" : "Meeting"}</dd>
                        <dt>When</dt><dd>{dateTimeFormat.formatRange(start!, end!)}</dd>
                        {m.location && <><dt>Where</dt><dd>{m.location}</dd></>}
                        {m.doc?.model && <><dt>About</dt><dd><a href={docPath(m.doc)}>{docLabel(m.doc)}</a></dd></>}
                    </dl>
                    {m.description && <p class="meeting-description">{m.description}</p>}
                    <h3 id="meeting-details-who" class="meeting-who">Attendees</h3>
                    <ul aria-labelledby="meeting-details-who" class="meeting-answers">
                        {m.attendees.map((a) => (
                            <li key={a.userId}>
                                {a.name || `User ${a.userId}`}{a.userId === m.organizerId ? " (organiser)" : ""}: {answerWords[a.answer]}
                            </li>
                        ))}
                    </ul>
                    {mine && !cancelled && (
                        <div role="group" aria-label="Your answer" class="meeting-answer-buttons">
                            {ANSWERS.map(({ answer, label }) => (
                                <button key={answer} type="button" aria-pressed={mine.answer === answer} disabled={busy.value}
                                    onClick={() => run(async (x) => (await activities.answerMeeting({ id: x.id, answer })).response,
                                        (x) => `${answerWords[answer]}: ${x.title}`)}>{label}</button>
                            ))}
                        </div>
                    )}
                    {error.value && <p class="error" role="alert">{error.value.message}</p>}
                    <div class="callform-actions">
                        {mayChange && <button type="button" onClick={() => onEdit(m)}>Change</button>}
                        {mayChange && (
                            <button type="button" disabled={busy.value}
                                onClick={() => run(async (x) => (await activities.cancelMeeting({ id: x.id })).response,
                                    (x) => `Meeting cancelled: ${x.title}`)}>Cancel meeting</button>
                        )}
                    </div>
                </>
            )}
            <form method="dialog">
                <button type="submit">Close</button>
            </form>
        </Dialog>
    );
}
