import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import { EnrichedEvent, Event } from './gen/kairos/events/v1/events';
import { TriggerFired } from './gen/kairos/triggers/v1/triggers';
import { ActionOutcome, ActionRequested } from './gen/kairos/actions/v1/actions';
import { CustomerErased, EraseRequested } from './gen/kairos/privacy/v1/privacy';

/** A protobuf message type as ts-proto generates it. */
export interface MessageType<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  decode(input: BinaryReader | Uint8Array, length?: number): T;
  fromPartial(object: any): T;
}

/** A message type with the schema name carried in the `Kairos-Schema` header. */
export interface Schema<T> {
  name: string;
  type: MessageType<T>;
}

export const SCHEMAS = {
  Event: { name: 'kairos.events.v1.Event', type: Event } as Schema<Event>,
  EnrichedEvent: { name: 'kairos.events.v1.EnrichedEvent', type: EnrichedEvent } as Schema<EnrichedEvent>,
  TriggerFired: { name: 'kairos.triggers.v1.TriggerFired', type: TriggerFired } as Schema<TriggerFired>,
  ActionRequested: {
    name: 'kairos.actions.v1.ActionRequested',
    type: ActionRequested,
  } as Schema<ActionRequested>,
  ActionOutcome: { name: 'kairos.actions.v1.ActionOutcome', type: ActionOutcome } as Schema<ActionOutcome>,
  EraseRequested: {
    name: 'kairos.privacy.v1.EraseRequested',
    type: EraseRequested,
  } as Schema<EraseRequested>,
  CustomerErased: {
    name: 'kairos.privacy.v1.CustomerErased',
    type: CustomerErased,
  } as Schema<CustomerErased>,
};
