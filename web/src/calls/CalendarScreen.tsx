// The calendar: a week of the user's calls and meetings (ListCalendar),
// one column a day in the user's time zone, each day's entries in time
// order; the previous and next week, back to today; an entry opens its
// details (a meeting's: its place, attendees and answers; answer, change,
// cancel). Schedule a meeting starts here. On a phone the days stack into
// one list.
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { CalendarEventKind, CallStatus, ListCalendarRequest, MeetingAnswer, type CalendarEvent, type Meeting } from "../../gen/activities";
import type { User } from "../../gen/identity";
import { activities, errorText, isUnauthenticated } from "../api";
import { seesAllLeads } from "../access";
import { currentUser } from "../session";
import { loadDocNames } from "./docs";
import { EventDetails } from "./EventDetails";
import { MeetingDetails } from "./MeetingDetails";
import { MeetingForm } from "./MeetingForm";
import { addDays, dateFormat, dayFormat, fromMicros, sameDay, startOfWeek, timeFormat, toMicros } from "./time";
import { activeUsers, displayName, loadActiveUsers } from "./users";

// The events of one day: those that start in it or are still going at its
// start (a meeting past midnight shows on both days).
function eventsOn(events: CalendarEvent[], day: Date): CalendarEvent[] {
    const from = day.getTime(), to = addDays(day, 1).getTime();
    return events.filter((e) => {
        const s = fromMicros(e.startAt).getTime(), end = fromMicros(e.endAt).getTime();
        return (s >= from && s < to) || (s < from && end > from);
    });
}

function entryText(e: CalendarEvent, day: Date): string {
    const start = fromMicros(e.startAt);
    const time = sameDay(start, day) ? timeFormat.format(start) : `${dateFormat.format(start)} ${timeFormat.format(start)}`;
    const kind = e.kind === CalendarEventKind.CALL ? "Call" : "Meeting";
    const held = e.kind === CalendarEventKind.CALL && e.callStatus === CallStatus.HELD ? " (held)"
        : e.kind === CalendarEventKind.MEETING && e.answer === MeetingAnswer.TENTATIVE ? " (maybe)" : "";
    return `${time} ${kind}${held}: ${e.title}`;
}

export function CalendarScreen({ user }: { user: User }) {
    const week = useSignal(startOfWeek(new Date()));
    const userId = useSignal(user.id);
    const events = useSignal<CalendarEvent[] | null>(null);
    const error = useSignal("");
    const notice = useSignal("");
    const open = useSignal<CalendarEvent | null>(null);
    const planning = useSignal(false);
    const editing = useSignal<Meeting | null>(null);
    const asked = useRef(0);

    function fail(e: unknown) {
        if (isUnauthenticated(e)) currentUser.value = "signed-out";
        else error.value = errorText(e);
    }

    async function load() {
        const from = week.value, mine = ++asked.current;
        try {
            const all: CalendarEvent[] = [];
            let pageToken = "";
            do {
                const { response } = await activities.listCalendar(ListCalendarRequest.create({
                    userId: userId.value, from: toMicros(from), to: toMicros(addDays(from, 7)), pageSize: 1000, pageToken,
                }));
                all.push(...response.events);
                pageToken = response.nextPageToken;
            } while (pageToken);
            if (mine !== asked.current) return; // another week or user was asked for meanwhile
            events.value = all;
            error.value = "";
            void loadDocNames(all.map((e) => e.doc));
        } catch (e) {
            fail(e);
        }
    }

    useEffect(() => void load(), [week.value, userId.value]);
    useEffect(() => void loadActiveUsers().catch(fail), []);

    function go(to: Date) {
        events.value = null;
        week.value = startOfWeek(to);
    }

    function show(m: Meeting) {
        const at = startOfWeek(fromMicros(m.startAt));
        if (at.getTime() !== week.value.getTime()) go(at);
        else void load();
    }

    function scheduled(m: Meeting) {
        planning.value = false;
        notice.value = `Meeting scheduled: ${m.title}`;
        show(m);
    }

    function changed(m: Meeting) {
        editing.value = null;
        notice.value = `Meeting changed: ${m.title}`;
        show(m);
    }

    const days = Array.from({ length: 7 }, (_, i) => addDays(week.value, i));
    const today = new Date();
    const mine = userId.value === user.id;
    return (
        <section class="cal" aria-labelledby="cal-title">
            <div class="cal-head">
                <h1 id="cal-title">Calendar</h1>
                {mine && (
                    <button type="button" aria-expanded={planning.value}
                        onClick={() => { notice.value = ""; editing.value = null; planning.value = !planning.value; }}>Schedule a meeting</button>
                )}
            </div>
            {planning.value && (
                <MeetingForm user={user} day={sameDay(week.value, startOfWeek(today)) ? today : week.value}
                    onDone={scheduled} onCancel={() => (planning.value = false)} />
            )}
            {editing.value && (
                <MeetingForm key={editing.value.id} user={user} day={week.value} meeting={editing.value}
                    onDone={changed} onCancel={() => (editing.value = null)} />
            )}
            <p class="cal-notice" role="status">{notice.value}</p>
            <div class="cal-toolbar">
                <div class="cal-nav" role="group" aria-label="Week">
                    <button type="button" onClick={() => go(addDays(week.value, -7))}>Previous week</button>
                    <button type="button" onClick={() => go(today)}>Today</button>
                    <button type="button" onClick={() => go(addDays(week.value, 7))}>Next week</button>
                </div>
                <h2 class="cal-range" aria-live="polite">{dateFormat.formatRange(days[0], days[6])}</h2>
                {seesAllLeads(user) && (
                    <div class="cal-whose">
                        <label for="cal-whose-user">Calendar of</label>
                        <select id="cal-whose-user" value={userId.value} onChange={(e) => { events.value = null; userId.value = e.currentTarget.value; }}>
                            <option value={user.id}>Me</option>
                            {(activeUsers.value ?? []).filter((u) => u.id !== user.id).map((u) =>
                                <option key={u.id} value={u.id}>{displayName(u)}</option>)}
                        </select>
                    </div>
                )}
            </div>
            {error.value && <p class="error" role="alert">{error.value}</p>}
            {events.value === null ? !error.value && <p role="status">Loading…</p> : (
                <div class="cal-week">
                    {days.map((d, i) => {
                        const on = eventsOn(events.value ?? [], d);
                        const isToday = sameDay(d, today);
                        return (
                            <section key={d.getTime()} class={isToday ? "cal-day cal-today" : "cal-day"}
                                aria-labelledby={`cal-day-${i}`}>
                                <h3 id={`cal-day-${i}`} aria-current={isToday ? "date" : undefined}>{dayFormat.format(d)}</h3>
                                {on.length === 0 ? <p class="cal-empty">Nothing planned</p> : (
                                    <ol aria-labelledby={`cal-day-${i}`}>
                                        {on.map((e) => (
                                            <li key={`${e.kind}-${e.id}`}>
                                                <button type="button"
                                                    class={e.kind === CalendarEventKind.CALL ? "cal-entry cal-call" : "cal-entry cal-meeting"}
                                                    onClick={() => (open.value = e)}>{entryText(e, d)}</button>
                                            </li>
                                        ))}
                                    </ol>
                                )}
                            </section>
                        );
                    })}
                </div>
            )}
            {open.value && open.value.kind === CalendarEventKind.MEETING && (
                <MeetingDetails id={open.value.id} title={open.value.title} user={user}
                    onEdit={(m) => { open.value = null; planning.value = false; notice.value = ""; editing.value = m; }}
                    onChanged={(m, what) => { notice.value = what; if (m.state) open.value = null; void load(); }}
                    onClose={() => (open.value = null)} />
            )}
            {open.value && open.value.kind !== CalendarEventKind.MEETING &&
                <EventDetails event={open.value} onClose={() => (open.value = null)} />}
        </section>
    );
}
