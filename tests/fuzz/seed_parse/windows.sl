// windows and state, with Spark's parameter names
val kv = queueStream("kv.jsonl").map(x => (x._1, x._2 * 2L))
kv.reduceByKeyAndWindow(_ + _, _ - _, windowDuration = Seconds(30), slideDuration = 10s,
  filterFunc = kv => kv._2 != 0).print()
kv.updateStateByKey((vs: Seq[Long], s: Option[Long]) => Some(vs.sum + s.getOrElse(0L))).print()
kv.mapWithState(StateSpec.function((k, v, s) => { val n = s.getOption.getOrElse(0L) + v; s.update(n); (k, n) }).timeout(Minutes(5))).stateSnapshots().print()
kv.window(2s).countByValue().print()
