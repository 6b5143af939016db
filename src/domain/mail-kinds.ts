/** The emails Switchboard sends (the outbox's `kind`): data the mail templates render and the outbox stores. */
export const mailKinds = ['welcome', 'password_reset', 'mivb_deployment_details', 'mivb_deployment_credentials'] as const;
export type MailKind = (typeof mailKinds)[number];
