// The active users, for choosing a call's responsible or a meeting's
// attendees: one ListUsers walk, sorted by name as the user's language
// sorts (Intl.Collator: Chinese and other names in their order).
import { signal } from "@preact/signals";
import type { User } from "../../gen/identity";
import { personName } from "../format";
import { listAllUsers } from "../names";

export const activeUsers = signal<User[] | null>(null);

export const displayName = personName;

export async function loadActiveUsers(): Promise<void> {
    activeUsers.value = await listAllUsers(false);
}
