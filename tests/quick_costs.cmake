# COST of the quick suite's longest tests (issue 20 (e)), included after every discovered test
# (TEST_INCLUDE_FILES, appended last in tests/CMakeLists.txt): a fresh build has no ctest timing
# history, and `ctest -j2` packs well only if the longest tests start first.  ctest's own history
# (Testing/Temporary/CTestCostData.txt) replaces these after a run.  Seconds on an idle 2-core
# machine, estimated from one run at load ~8 divided by 3 (docs/performance-ci.md "Quick suite
# toward 60 s (perf12)"); a renamed or removed test only loses its hint.  The report_* tests
# (Chromium launches: wall, not CPU) keep their COST in tests/CMakeLists.txt, and so does every
# test tests/CMakeLists.txt adds itself with add_test (this file is included before those are
# added, so a hint here would be lost: quick21).
set_tests_properties("Catalog/CatalogDeterminism.RepeatsItsTraceByteForByte/connection_limit" PROPERTIES COST 7.5)
set_tests_properties("StormTwins.PostgresWritesMoreSourceMarkersThanMongo" PROPERTIES COST 6.4)
set_tests_properties("StreamWakeIndex.CallingOnlyTheConcernedWatchersKeepsTheTrace" PROPERTIES COST 6.2)
set_tests_properties("MutantClasses/ExplainFailure.ShrunkFailureReportShowsInputsChainAndTwin/fsync_lies" PROPERTIES COST 5.1)
set_tests_properties("Catalog/CatalogDeterminism.RepeatsItsTraceByteForByte/compaction_torn_reads" PROPERTIES COST 4.5)
set_tests_properties("GuidedCli.GuidedBatchesAreTheSameWhateverJobs" PROPERTIES COST 4.4)
set_tests_properties("JsReal.AHostKeptAcrossSeedsLeaksNoState" PROPERTIES COST 4.1)
set_tests_properties("HuntCli.TheWorldHuntRediscoversNearMaxIdAndKnowsIt" PROPERTIES COST 3.8)
set_tests_properties("StreamChurn.CatalogScenarioHoldsAndIsNotVacuous" PROPERTIES COST 3.6)
set_tests_properties("BasicScenario.PassesAllInvariantsOnEverySeedOfItsBudgetAndRepeatsItsTrace" PROPERTIES COST 3.6)
set_tests_properties("Budget.StopsEarlyAndRecordsAPrefixOfTheShardThatMatchesAnUnbudgetedSweep" PROPERTIES COST 3.4)
set_tests_properties("HuntCli.TheWorldHuntRediscoversACatalogFindingAndKnowsIt" PROPERTIES COST 3.4)
set_tests_properties("Catalog/CatalogDeterminism.RepeatsItsTraceByteForByte/compaction_pages" PROPERTIES COST 3.3)
set_tests_properties("AbstractState.AWorldRunReachesCellsOfTheTableOnly" PROPERTIES COST 3.2)
set_tests_properties("Sweep.JobsOneAndJobsTwoGiveIdenticalResults" PROPERTIES COST 3.1)
set_tests_properties("StreamMerge.WritesExactlyWhatMergeResultsDumpsAndTheSameJunit" PROPERTIES COST 3.0)
set_tests_properties("ConsistentCheckpoint.AForgottenPageInvalidationShowsARowTheSourceDidNotHave" PROPERTIES COST 2.9)
set_tests_properties("JsReal.AKillDropsExactlyThatClientsPendingWork" PROPERTIES COST 2.9)
set_tests_properties("Catalog/StreamWake.ClientsObserveWhatTheyObservedWhenEveryCheckpointWokeEveryStream/config_reprocessing" PROPERTIES COST 2.9)
set_tests_properties("Catalog/CatalogDeterminism.RepeatsItsTraceByteForByte/api_processes" PROPERTIES COST 2.9)
set_tests_properties("JsReal.AnUpgradeFromTheJavaScriptClientKeepsDeletedRowsDeleted" PROPERTIES COST 2.9)
set_tests_properties("JsReal.ARestartIsAGracefulCloseTheSdkDisconnectsFirst" PROPERTIES COST 2.9)
set_tests_properties("ServiceFaults.EveryFaultKindHealsAndHappened" PROPERTIES COST 2.8)
set_tests_properties("Catalog/CatalogDeterminism.RepeatsItsTraceByteForByte/read_back_round_trip" PROPERTIES COST 2.7)
set_tests_properties("JsReal.BasicLegacyPassesWithTheRealSdk" PROPERTIES COST 2.7)
set_tests_properties("Mutants/ShrinkMutant.ToAtMostTwentyStepsThatReplayToTheSameViolation/reset_target_on_reconnect" PROPERTIES COST 2.4)
set_tests_properties("JsReal.TheJavaScriptClientRaisesTheSometimesPropertiesTheRustClientDoes" PROPERTIES COST 3.6)
set_tests_properties("Sweep.ShardsMergedEqualTheFullSweep" PROPERTIES COST 2.3)
set_tests_properties("JsReal.TheLifecycleCatalogPassesWithTheRealSdk" PROPERTIES COST 2.3)
set_tests_properties("Sometimes.CompactionInvalidationsWithheldAndForgottenPerPage" PROPERTIES COST 2.1)
set_tests_properties("BasicLegacy.PassesEverySeedOfItsBudgetAndIsDeterministic" PROPERTIES COST 2.1)
set_tests_properties("HuntCli.AMutantGivesOneFindingWhoseShrunkReproReplaysBitForBit" PROPERTIES COST 2.1)
set_tests_properties("Experiment.Core052Vs053DiffersOnlyInTxIds" PROPERTIES COST 2.0)
set_tests_properties("JsReal.AMidRunDowngradeTo046SwitchesTo143AndAnUpgradeBackTo230" PROPERTIES COST 1.9)
set_tests_properties("JsReal.ADowngradeTo046RunsThe143SdkAndUpgradesBackReturnToTheRealSdk" PROPERTIES COST 1.7)
set_tests_properties("ExplainFailureAlone.NoLostWritesAndConvergesGiveInputsAndChain" PROPERTIES COST 1.7)
set_tests_properties("Sweep.ReportWritesOneHtmlReportPerScenario" PROPERTIES COST 1.6)
set_tests_properties("Catalog/CatalogDeterminism.RepeatsItsTraceByteForByte/batch_failures" PROPERTIES COST 1.6)
# Session 12: tests added or grown since perf12's list, from a fresh clone's second run on an idle
# machine (its first run started them last: 127 s wall against 104 s with history).
set_tests_properties("HuntCli.ANewGroupThatAReproducedQuirkExplainsIsLabelledWithItAndIsNotNew" PROPERTIES COST 1.0)
set_tests_properties("SdkDiffCatalog.ATimerAndAResponseDueAtOneMicrosecondMayRunInEitherOrder" PROPERTIES COST 4.4)
set_tests_properties("SdkDiffCatalog.AnAbortedUploadDrawsNoRetryJitter" PROPERTIES COST 3.3)
set_tests_properties("JsRealStreams.StreamChurnSubscribesThroughTheSdk" PROPERTIES COST 3.0)
set_tests_properties("MonotonicReads.NoBucketsBeforeTheNewInstancesFirstDataAreNotARollback" PROPERTIES COST 2.7)
set_tests_properties("JsReal.ThePortEndsTheStreamAtAnAppUpdateAsThe1540SdkDoes" PROPERTIES COST 1.6)
set_tests_properties("JsReal.ASkewedPairingTheSdkAcceptsRuns" PROPERTIES COST 1.5)
set_tests_properties("ClientInvariants.MonotonicReadsHoldsAcrossABucketRenameBeforeTheApply" PROPERTIES COST 1.5)
set_tests_properties("JsReal.ThePortAndTheRealSdkSpendTheSameVirtualTime" PROPERTIES COST 1.5)
set_tests_properties("MutationScore/MutantScore.IsDetectedWithinTheBudget/stream_end_unseen" PROPERTIES COST 1.6)
set_tests_properties("JsRealLiveness.AnSdkWaitingOnNothingIsJudgedMidRun" PROPERTIES COST 1.4)
set_tests_properties("JsRealLiveness.AStreamsFirstLineIsAPathForTheRealSdkToo" PROPERTIES COST 1.2)
# quick22: tests that took ≥ 0.6 CPU-s without a hint (tests/quick_cpu.py, docs/performance-ci.md
# "quick22"), and ThePortOn0412..., which now makes A0412RunUsesCommon154...'s runs.
set_tests_properties("JsReal.ThePortOn0412WaitsAs1540DoesWithoutJitter" PROPERTIES COST 2.1)
set_tests_properties("JsReal.SdkReadsComeFromAPoolThatNeverQueuesBehindTheWriteLock" PROPERTIES COST 1.2)
set_tests_properties("JsReal.AForcedPairingRunsPastTheSdksVersionCheckAndIsLabelled" PROPERTIES COST 1.2)
set_tests_properties("JsReal.AnUpOrDowngradeWithinTheSdksCoresStaysOnTheRealSdk" PROPERTIES COST 1.1)
# ... and the js-real tests of 0.3-0.5 CPU-s (idle wall ~1.3x their CPU: Node and the simulator
# take turns) and the other unhinted tests of 0.5 CPU-s, so that only sub-0.5 s tests fill the tail.
set_tests_properties("SdkDiffCatalog.BothEnginesReportTheTargetCompleteStoresAsComplete" PROPERTIES COST 1.0)
set_tests_properties("SdkDiffCatalog.AReconnectFetchesCredentialsAgainAsTheSdksNewRemoteDoes" PROPERTIES COST 1.0)
set_tests_properties("SdkDiffCatalog.TheConnectorPassesTheCustomWriteCheckpointToComplete" PROPERTIES COST 0.9)
set_tests_properties("SdkDiffCatalog.TheAppsRequestCheckpointRunsInTheRealSdk" PROPERTIES COST 0.8)
set_tests_properties("SdkDiffCatalog.CustomWriteCheckpointsSeed11AgreesAndBothFlicker" PROPERTIES COST 0.8)
set_tests_properties("JsReal.ClonedDatabaseFindingReproducesWithTheRealSdk" PROPERTIES COST 0.8)
set_tests_properties("PortStreams.ServesAReleaseBeforeItsUnsubscribeAll" PROPERTIES COST 0.8)
set_tests_properties("PortStreams.ServesASubscriptionChangeWhileItsStreamRequestIsInFlight" PROPERTIES COST 0.8)
set_tests_properties("SyncStream.ACleanLastPageCompletesACheckpointAnEarlierPageInvalidated" PROPERTIES COST 0.8)
set_tests_properties("ReportCli.ReadsAHuntFindingsDirectory" PROPERTIES COST 0.8)
