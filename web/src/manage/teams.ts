// The sales teams and the people, as the settings screens and the report
// pick them: sorted by name for people.
import type { Team, User } from "../../gen/identity";
import { identity } from "../api";
import { byName } from "./labels";

export async function listTeams(): Promise<Team[]> {
    const { response } = await identity.listTeams({});
    return response.teams.sort((a, b) => byName(a.name, b.name));
}

export async function listUsers(includeInactive: boolean): Promise<User[]> {
    const users: User[] = [];
    let pageToken = "";
    do {
        const { response } = await identity.listUsers({ pageSize: 1000, pageToken, includeInactive });
        users.push(...response.users);
        pageToken = response.nextPageToken;
    } while (pageToken);
    return users.sort((a, b) => byName(a.name || a.login, b.name || b.login));
}
