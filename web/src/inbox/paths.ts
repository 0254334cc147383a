// Where the Inbox lives (the top bar shows the unread count on its link).
export const inboxPath = "/inbox";
