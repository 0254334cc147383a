// One calendar entry in full, in a modal dialog (focus moves in, Escape
// closes, focus returns to the entry).
import { CalendarEventKind, CallStatus, type CalendarEvent } from "../../gen/activities";
import { Dialog } from "../ui/Dialog";
import { docLabel, docPath } from "./docs";
import { dateTimeFormat, fromMicros } from "./time";
import { statusWords } from "./words";

export function EventDetails({ event, onClose }: { event: CalendarEvent; onClose: () => void }) {
    const call = event.kind === CalendarEventKind.CALL;
    const start = fromMicros(event.startAt), end = fromMicros(event.endAt);
    return (
        <Dialog id="cal-details" class="cal-details" title={event.title} onClose={onClose}>
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
        </Dialog>
    );
}
