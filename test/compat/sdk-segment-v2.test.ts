import { segmentV2 } from '../helpers/sdk-clients.ts'
import { sdkSuite } from '../helpers/sdk-suite.ts'

// @segment/analytics-node 2.x, the real client, against the service embedded and in queue mode (issue 16).
sdkSuite(segmentV2)
