import { token } from '@kairos/service-kit';
import type { ChannelAdapter } from './channels/adapter';
import type { InboxStore } from './channels/inbox';
import type { ChannelLimits } from './domain/channel-limits';
import type { RetryPolicy } from './delivery-service';
import type { FaultHook } from './faults';
import type { Guarantees } from './domain/guarantees';
import type { TrackingOptions } from './http-api';
import type { DeliveryLedger } from './ledger';
import type { OutcomePublisher } from './outcomes';
import type { Channel, SelectionOptions } from './domain/selection';

/** DI tokens of the delivery service (common ones live in @kairos/service-kit TOKENS). */
export const DELIVERY_TOKENS = {
  Adapters: token<Map<Channel, ChannelAdapter>>('kairos.delivery.Adapters'),
  Ledger: token<DeliveryLedger>('kairos.delivery.Ledger'),
  Inbox: token<InboxStore>('kairos.delivery.Inbox'),
  Outcomes: token<OutcomePublisher>('kairos.delivery.Outcomes'),
  Limits: token<ChannelLimits>('kairos.delivery.Limits'),
  SelectionOptions: token<SelectionOptions>('kairos.delivery.SelectionOptions'),
  RetryPolicy: token<RetryPolicy>('kairos.delivery.RetryPolicy'),
  Guarantees: token<Guarantees>('kairos.delivery.Guarantees'),
  FaultHook: token<FaultHook>('kairos.delivery.FaultHook'),
  TrackingOptions: token<TrackingOptions>('kairos.delivery.TrackingOptions'),
  CallbackSecret: token<string>('kairos.delivery.CallbackSecret'),
} as const;
