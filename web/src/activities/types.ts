// Activity types (Call, Meeting, Email, To-do and what managers add), read
// once per page load and again after Settings changes them, and the words
// an activity's deadline is shown with.
import { signal } from "@preact/signals";
import { ActivityCategory, ActivityDue, type Activity, type ActivityType } from "../../gen/activities";
import { activities } from "../api";
import { formatDay } from "../pipeline/dates";
import { fromMicros, timeFormat } from "../calls/time";

export const activityTypes = signal<ActivityType[] | null>(null);

export async function loadActivityTypes(): Promise<void> {
    activityTypes.value = (await activities.listActivityTypes({ includeArchived: true })).response.types;
}

export const categoryWords: Record<number, string> = {
    [ActivityCategory.UNSPECIFIED]: "To-do", [ActivityCategory.TODO]: "To-do", [ActivityCategory.CALL]: "Call",
    [ActivityCategory.MEETING]: "Meeting", [ActivityCategory.EMAIL]: "Email",
};

// "Overdue: 3 Dec 2026", "Today", "Today, 14:30", "10 Dec 2026": the state
// said in words, not only in colour.
export function dueText(a: Activity): string {
    const time = a.plannedAt !== "0" ? timeFormat.format(fromMicros(a.plannedAt)) : "";
    if (a.due === ActivityDue.OVERDUE) return `Overdue: ${formatDay(a.deadline)}`;
    if (a.due === ActivityDue.TODAY) return time ? `Today, ${time}` : "Today";
    return time ? `${formatDay(a.deadline)}, ${time}` : formatDay(a.deadline);
}

export function dueClass(a: Activity): string {
    return a.due === ActivityDue.OVERDUE ? "due-overdue" : a.due === ActivityDue.TODAY ? "due-today" : "due-planned";
}

export const activityTitle = (a: Activity) => a.summary || a.typeName || categoryWords[a.category] || "Activity";
