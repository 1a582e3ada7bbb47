import { segmentV3 } from '../helpers/sdk-clients.ts'
import { sdkSuite } from '../helpers/sdk-suite.ts'

// @segment/analytics-node 3.x, the real client, against the service embedded and in queue mode (issue 16).
sdkSuite(segmentV3)
