// The active users, for choosing a call's responsible or a meeting's
// attendees: one ListUsers walk, sorted by name as the user's language
// sorts (Intl.Collator: Chinese and other names in their order).
import { signal } from "@preact/signals";
import type { User } from "../../gen/identity";
import { identity } from "../api";

export const activeUsers = signal<User[] | null>(null);
const collator = new Intl.Collator(undefined, { sensitivity: "base" });

export const displayName = (u: User) => u.name || u.login;

export async function loadActiveUsers(): Promise<void> {
    const users: User[] = [];
    let pageToken = "";
    do {
        const { response } = await identity.listUsers({ pageSize: 1000, pageToken, includeInactive: false });
        users.push(...response.users);
        pageToken = response.nextPageToken;
    } while (pageToken);
    users.sort((a, b) => collator.compare(displayName(a), displayName(b)));
    activeUsers.value = users;
}
