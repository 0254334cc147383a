// Display names by id for screens whose records carry ids only: users from
// one ListUsers, customers from one GetCustomer each, each asked once. (Leads
// carry their customer's and salesperson's names themselves.)
import { signal } from "@preact/signals";
import type { User } from "../gen/identity";
import { identity, pipeline } from "./api";
import { byPersonName, personName } from "./format";

export const userNames = signal<ReadonlyMap<string, string>>(new Map());
export const customerNames = signal<ReadonlyMap<string, string>>(new Map());
const asked = new Set<string>();

// Every user, page after page, sorted by name in the user's language.
export async function listAllUsers(includeInactive: boolean): Promise<User[]> {
    const users: User[] = [];
    let pageToken = "";
    do {
        const { response } = await identity.listUsers({ pageSize: 1000, pageToken, includeInactive });
        users.push(...response.users);
        pageToken = response.nextPageToken;
    } while (pageToken);
    return users.sort(byPersonName);
}

export async function loadUserNames(): Promise<void> {
    const users = await listAllUsers(true);
    userNames.value = new Map(users.map((u) => [u.id, personName(u)]));
}

export async function loadCustomerNames(ids: Iterable<string>): Promise<void> {
    const wanted = [...new Set(ids)].filter((id) => id !== "0" && !asked.has(id));
    wanted.forEach((id) => asked.add(id));
    const found = await Promise.allSettled(wanted.map((id) => pipeline.getCustomer({ id })));
    const names = new Map(customerNames.value);
    found.forEach((r, i) => {
        if (r.status === "fulfilled") names.set(wanted[i], r.value.response.name);
        else asked.delete(wanted[i]); // asked again next time
    });
    customerNames.value = names;
}
