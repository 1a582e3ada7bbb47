import { rudderstack } from '../helpers/sdk-clients.ts'
import { sdkSuite } from '../helpers/sdk-suite.ts'

// @rudderstack/rudder-sdk-node 3.x, the real client, against the service embedded and in queue mode (issue 16).
sdkSuite(rudderstack)
