// The sales teams and the people, as the settings screens and the report
// pick them: sorted by name for people.
import type { Team, User } from "../../gen/identity";
import { identity } from "../api";
import { byName } from "../format";
import { listAllUsers } from "../names";

export async function listTeams(): Promise<Team[]> {
    const { response } = await identity.listTeams({ includeArchived: false });
    return response.teams.sort(byName);
}

export const listUsers: (includeInactive: boolean) => Promise<User[]> = listAllUsers;
