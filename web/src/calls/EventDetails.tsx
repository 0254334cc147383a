// One calendar entry in full, in a modal dialog (the browser's <dialog>:
// focus moves in, Escape closes, focus returns to the entry).
import { useEffect, useRef } from "preact/hooks";
import { CalendarEventKind, CallStatus, type CalendarEvent } from "../../gen/activities";
import { docLabel, docPath } from "./docs";
import { dateTimeFormat, fromMicros } from "./time";
import { statusWords } from "./words";

export function EventDetails({ event, onClose }: { event: CalendarEvent; onClose: () => void }) {
    const ref = useRef<HTMLDialogElement>(null);
    useEffect(() => {
        const d = ref.current;
        if (d && !d.open) d.showModal();
    }, [event]);
    const call = event.kind === CalendarEventKind.CALL;
    const start = fromMicros(event.startAt), end = fromMicros(event.endAt);
    return (
        <dialog ref={ref} class="cal-details" aria-labelledby="cal-details-title" onClose={onClose}>
            <h2 id="cal-details-title">{event.title}</h2>
            <dl>
                <dt>Kind</dt><dd>{call ? "Call" : "Meeting"}</dd>
                <dt>When</dt><dd>{end > start ? dateTimeFormat.formatRange(start, end) : dateTimeFormat.format(start)}</dd>
                {call && event.callStatus !== CallStatus.UNSPECIFIED && <><dt>Status</dt><dd>{statusWords[event.callStatus]}</dd></>}
                {event.doc?.model && <><dt>About</dt><dd><a href={docPath(event.doc!)}>{docLabel(event.doc)}</a></dd></>}
            </dl>
            {call && <p><a href="/calls">Scheduled calls</a></p>}
            <form method="dialog">
                <button type="submit">Close</button>
            </form>
        </dialog>
    );
}
