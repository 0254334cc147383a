// What the signed-in user may do, as the API decides it: the app offers
// only the controls whose calls would be allowed (the API checks anyway).
import { SalesAccess } from "../gen/common";
import type { User } from "../gen/identity";

export const isManager = (u: User) => u.isAdmin || u.salesAccess === SalesAccess.MANAGER;
export const seesAllLeads = (u: User) => isManager(u) || u.salesAccess === SalesAccess.ALL_LEADS;
export const hasSales = (u: User) => u.isAdmin || u.salesAccess !== SalesAccess.NONE;
export const isAdmin = (u: User) => u.isAdmin;
