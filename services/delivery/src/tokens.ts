import { tokens } from '@kairos/service-kit';
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
export const DELIVERY_TOKENS = tokens<{
  Adapters: Map<Channel, ChannelAdapter>;
  Ledger: DeliveryLedger;
  Inbox: InboxStore;
  Outcomes: OutcomePublisher;
  Limits: ChannelLimits;
  SelectionOptions: SelectionOptions;
  RetryPolicy: RetryPolicy;
  Guarantees: Guarantees;
  FaultHook: FaultHook;
  TrackingOptions: TrackingOptions;
  CallbackSecret: string;
}>('kairos.delivery');
